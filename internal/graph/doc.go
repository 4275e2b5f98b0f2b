// Package graph builds Entravault's Microsoft Graph client: the official
// msgraph-sdk-go GraphServiceClient on a kiota request adapter with the SDK's
// default middleware (retry honouring Retry-After, compression, telemetry),
// authenticated by azidentity with a client secret or certificate against a
// configurable authority host (the tenant simulator or Entra ID).
//
// It is the only non-test package that imports msgraph-sdk-go (heavy to
// compile); it must not import the simulator, Temporal or storage code.
package graph
