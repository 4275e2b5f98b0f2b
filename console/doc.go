// Package console is Entravault's web console: server-rendered pages
// (html/template, assets embedded) served under / by the api role, beside
// the REST API under /api/v1.
//
// The console holds no business logic: every page calls the REST API's
// handler in-process with the signed-in person's own credential, so the
// access rule, validation and errors are the API's, to the letter. Its
// own concerns are sign-in (OIDC authorization code with PKCE, or an API
// key), the session (a sealed cookie) and CSRF protection of every form.
// It must not import the workflows, activities or Graph packages.
package console
