package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	// jwksMinRefresh spaces fetches caused by unknown key IDs. go-oidc's own
	// RemoteKeySet fetches the JWKS again after every failed signature, so
	// each forged token would cost a request to the issuer.
	jwksMinRefresh = 10 * time.Second
	// jwksMaxAge makes keys the issuer withdrew stop working within an hour
	// even when no unknown key ID comes along.
	jwksMaxAge = time.Hour
)

// jwksKeySet is the issuer's key set as an oidc.KeySet. It fetches the JWKS
// on first use, when a token names an unknown key ID (at most every
// jwksMinRefresh) and when the keys are older than jwksMaxAge. A wrong
// signature under a known key ID never causes a fetch.
type jwksKeySet struct {
	url    string
	client *http.Client
	algs   []jose.SignatureAlgorithm
	now    func() time.Time

	mu      sync.Mutex // held across the fetch, so concurrent misses wait for one
	keys    []jose.JSONWebKey
	fetched time.Time // last attempt, successful or not
	loaded  time.Time // last success
	lastErr error     // of the last fetch, if it failed
}

var errUnknownKeyID = errors.New("token signed with an unknown key")

// VerifySignature implements oidc.KeySet. Error texts start with "fetching
// keys" when the issuer could not be reached (see OIDCVerifier.classify).
func (k *jwksKeySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, k.algs)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("want exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID

	keys, err := k.keysFor(ctx, kid)
	if err != nil {
		return nil, err
	}
	for i := range keys {
		if kid == "" || keys[i].KeyID == kid {
			if payload, err := jws.Verify(&keys[i]); err == nil {
				return payload, nil
			}
		}
	}
	return nil, errors.New("signature does not verify")
}

// keysFor returns the keys to check a token signed under kid, fetching
// first if there are none, if they are too old, or if kid is unknown; but
// never twice within jwksMinRefresh. The mutex is held across the fetch,
// so concurrent misses wait for one fetch and then use its result.
func (k *jwksKeySet) keysFor(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	known := kid == ""
	for _, key := range k.keys {
		known = known || key.KeyID == kid
	}
	stale := k.keys == nil || now.Sub(k.loaded) > jwksMaxAge || !known
	if stale && (k.fetched.IsZero() || now.Sub(k.fetched) >= jwksMinRefresh) {
		k.fetched = now
		keys, err := k.fetch(ctx)
		if err == nil {
			k.keys, k.loaded, k.lastErr = keys, now, nil
			return keys, nil
		}
		k.lastErr = err
	}
	switch {
	case k.keys == nil:
		return nil, fmt.Errorf("fetching keys: %w", k.lastErr)
	case !known:
		return nil, errUnknownKeyID
	}
	// Possibly older than jwksMaxAge when the issuer is down: stale keys
	// beat refusing everyone during an outage.
	return k.keys, nil
}

func (k *jwksKeySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS %s answered %s", k.url, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("JWKS %s: %v", k.url, err)
	}
	keys := set.Keys[:0]
	for _, key := range set.Keys {
		if key.Use == "" || key.Use == "sig" {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS %s has no signing keys", k.url)
	}
	return keys, nil
}
