package graphapi

import (
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/entravault/entravault/internal/tenantsim/model"
)

// Caller is the authenticated application behind a request.
type Caller struct {
	AppID    string
	TenantID string
	Roles    []string
}

func (c *Caller) has(roles ...string) bool {
	for _, want := range roles {
		for _, r := range c.Roles {
			if strings.EqualFold(r, want) {
				return true
			}
		}
	}
	return false
}

// ErrTokenExpired is returned by a Verifier for expired or not-yet-valid
// tokens; any other error means an invalid token.
var ErrTokenExpired = errors.New("graphapi: token expired")

// Verifier checks a bearer token.
type Verifier func(raw string) (Caller, error)

// Config configures a Server.
type Config struct {
	Tenant *model.Tenant
	Verify Verifier
	// DeltaTokenMaxAge is how long a delta token stays usable; default 7 days.
	DeltaTokenMaxAge time.Duration
	// DeltaExpiredGone answers expired delta tokens with 410 Gone and a
	// Location header instead of 400 syncStateNotFound.
	DeltaExpiredGone bool
	Throttle         ThrottleConfig
	// ConsistencyDelay is the initial Faults.ConsistencyDelay.
	ConsistencyDelay time.Duration
	Now              func() time.Time
}

// Server serves Graph v1.0 under /v1.0/.
type Server struct {
	cfg    Config
	t      *model.Tenant
	now    func() time.Time
	thr    *throttler
	faults *faultState
	stats  *counters
	// born holds when objects were created while a consistency delay was
	// set (tenant write lock).
	born map[model.ID]time.Time
}

// New creates a Graph server.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DeltaTokenMaxAge <= 0 {
		cfg.DeltaTokenMaxAge = 7 * 24 * time.Hour
	}
	s := &Server{cfg: cfg, t: cfg.Tenant, now: cfg.Now, stats: newCounters(), faults: &faultState{}, born: map[model.ID]time.Time{}}
	s.faults.set(Faults{ConsistencyDelay: cfg.ConsistencyDelay})
	s.thr = newThrottler(cfg.Throttle, len(cfg.Tenant.Users), cfg.Now)
	return s
}

// reqCtx is one request being served.
type reqCtx struct {
	w      http.ResponseWriter
	r      *http.Request
	q      *query
	caller Caller
	segs   []string
	base   string // scheme://host/v1.0
	route  string
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return model.ID(b).String()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("request-id", newRequestID())
	if cid := r.Header.Get("client-request-id"); cid != "" {
		w.Header().Set("client-request-id", cid)
	}
	w.Header().Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"Simulated","Slice":"E","Ring":"1","ScaleUnit":"000","RoleInstance":"SIM"}}`)
	path := strings.TrimPrefix(r.URL.Path, "/v1.0")
	if path == r.URL.Path {
		writeError(w, r, errNoRoute, s.now())
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	c := &reqCtx{w: w, r: r, base: scheme + "://" + r.Host + "/v1.0"}
	for _, p := range strings.Split(strings.Trim(path, "/"), "/") {
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
		c.segs = append(c.segs, p)
	}
	h, route, class := s.route(r.Method, c.segs)
	c.route = r.Method + " " + route
	s.stats.request(c.route)
	if e := s.serve(c, h, class); e != nil {
		if e.status == http.StatusTooManyRequests {
			s.stats.throttled(c.route)
		}
		writeError(w, r, e, s.now())
	}
}

func (s *Server) serve(c *reqCtx, h handler, class throttleClass) *graphError {
	if h == nil {
		return errNoRoute
	}
	auth := c.r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || strings.TrimSpace(raw) == "" {
		return errNoToken
	}
	caller, err := s.cfg.Verify(strings.TrimSpace(raw))
	switch {
	case errors.Is(err, ErrTokenExpired):
		return errExpired
	case err != nil:
		return errBadToken
	}
	c.caller = caller
	if e := s.thr.admit(c, class, s.stats); e != nil {
		return e
	}
	if e := s.faults.inject(c, s.stats); e != nil {
		s.thr.rememberFault(c, class, e)
		return e
	}
	q, e := parseQuery(c.r)
	if e != nil {
		return e
	}
	c.q = q
	if class.write {
		s.stats.write(c.route)
	}
	return h(s, c)
}

type handler func(s *Server, c *reqCtx) *graphError

// need checks that the caller holds one of roles.
func need(c *reqCtx, roles ...string) *graphError {
	if c.caller.has(roles...) {
		return nil
	}
	return errDenied
}

// Role sets per resource (graph.md §2 and §8): read roles, and their
// write twins which also allow reading.
var (
	usersRead  = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	usersWrite = []string{"User.ReadWrite.All", "Directory.ReadWrite.All"}
	groupsRead = []string{"GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "GroupMember.ReadWrite.All",
		"Directory.Read.All", "Directory.ReadWrite.All"}
	groupsWrite  = []string{"Group.ReadWrite.All", "Directory.ReadWrite.All"}
	membersWrite = []string{"GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"}
	ausRead      = []string{"AdministrativeUnit.Read.All", "AdministrativeUnit.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	ausWrite     = []string{"AdministrativeUnit.ReadWrite.All", "Directory.ReadWrite.All"}
	appsRead     = []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	appsWrite    = []string{"Application.ReadWrite.All", "Directory.ReadWrite.All"}
	policyRead   = []string{"Policy.Read.All", "Policy.ReadWrite.ConditionalAccess"}
	caWrite      = []string{"Policy.ReadWrite.ConditionalAccess"}
	authMRead    = []string{"Policy.Read.All", "Policy.Read.AuthenticationMethod", "Policy.ReadWrite.AuthenticationMethod"}
	authZRead    = []string{"Policy.Read.All", "Policy.ReadWrite.Authorization"}
	rolesRead    = []string{"RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory",
		"Directory.Read.All", "Directory.ReadWrite.All"}
	rolesWrite = []string{"RoleManagement.ReadWrite.Directory"}
	orgRead    = []string{"Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)

func readRoles(k model.Kind) []string {
	switch k {
	case model.KindUser:
		return usersRead
	case model.KindGroup:
		return groupsRead
	case model.KindAU:
		return ausRead
	case model.KindApp, model.KindSP:
		return appsRead
	}
	return policyRead
}

func writeRoles(k model.Kind) []string {
	switch k {
	case model.KindUser:
		return usersWrite
	case model.KindGroup:
		return groupsWrite
	case model.KindAU:
		return ausWrite
	case model.KindApp, model.KindSP:
		return appsWrite
	}
	return caWrite
}

// writeJSON sends a 2xx JSON body, through the fault injector.
func (s *Server) writeJSON(c *reqCtx, status int, v any) *graphError {
	size := 4096
	if m, ok := v.(map[string]any); ok {
		if page, ok := m["value"].([]any); ok {
			size += 3000 * len(page) // a rendered user is about 2.5 KB: avoid regrowing
		}
	}
	body := appendJSON(make([]byte, 0, size), v)
	c.w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	c.w.Header().Set("OData-Version", "4.0")
	s.faults.write(c, status, body)
	return nil
}

// page tokens are opaque to clients: base64url of "o:<index>".
func encodeSkip(i int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(i)))
}

func decodeSkip(tok string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(b), "o:") {
		return 0, false
	}
	n, err := strconv.Atoi(string(b[2:]))
	return n, err == nil && n >= 0
}

// link rebuilds the request URL on the simulator's own scheme+host with
// the given extra parameter (and without $skiptoken/$deltatoken).
func (c *reqCtx) link(key, val string) string {
	v := url.Values{}
	for k, vals := range c.r.URL.Query() {
		kk := strings.TrimPrefix(strings.TrimPrefix(k, "%24"), "$")
		if kk == "skiptoken" || kk == "deltatoken" {
			continue
		}
		v[k] = vals
	}
	if key != "" {
		v.Set(key, val)
	}
	p := c.base + "/" + strings.Join(c.segs, "/")
	if len(v) == 0 {
		return p
	}
	return p + "?" + strings.ReplaceAll(v.Encode(), "%24", "$")
}

// source is a listable collection for the generic pager.
type source struct {
	n              int
	at             func(i int) model.Obj // nil = not listed
	context        string
	defTop, maxTop int
	noTop          bool
	kind           model.Kind // of objects(), for decorate
	// decorate adds to a projected item, e.g. an expanded relationship.
	decorate func(i int, o model.Obj)
}

// list serves one page of src with $top, $filter, $select, $count and
// $skiptoken; it expects the tenant read lock to be held.
func (s *Server) list(c *reqCtx, src source) *graphError {
	q := c.q
	if src.maxTop == 0 {
		src.defTop, src.maxTop = 100, 999
	}
	top := src.defTop
	if q.top > 0 {
		if src.noTop {
			return errNoTopParam
		}
		if q.top > src.maxTop {
			return errf(400, "Request_UnsupportedQuery", fmt.Sprintf("Invalid page size specified: '%d'. Must be between 1 and %d inclusive.", q.top, src.maxTop))
		}
		top = q.top
	}
	start := 0
	if q.skipToken != "" {
		n, ok := decodeSkip(q.skipToken)
		if !ok {
			return errSkipToken
		}
		start = n
	}
	page := make([]any, 0, min(top, 1000))
	next := -1
	for i := start; i < src.n; i++ {
		o := src.at(i)
		if o == nil || (q.filter != nil && !q.filter.eval(o)) {
			continue
		}
		if len(page) == top {
			next = i
			break
		}
		o = q.project(o) // a map of its own: Render builds a fresh one
		if src.decorate != nil {
			src.decorate(i, o)
		}
		page = append(page, o)
	}
	out := map[string]any{"@odata.context": c.base + "/$metadata#" + src.context, "value": page}
	if next >= 0 {
		out["@odata.nextLink"] = c.link("$skiptoken", encodeSkip(next))
	}
	if q.count {
		n := 0
		for i := 0; i < src.n; i++ {
			if o := src.at(i); o != nil && (q.filter == nil || q.filter.eval(o)) {
				n++
			}
		}
		out["@odata.count"] = n
	}
	return s.writeJSON(c, 200, out)
}

// objects lists live objects of one kind.
func (s *Server) objects(k model.Kind, context string) source {
	t := s.t
	return source{n: t.Len(k), context: context, kind: k, at: func(i int) model.Obj {
		r := model.MakeRef(k, int32(i))
		if !t.IsLive(r) {
			return nil
		}
		return t.Render(r)
	}}
}

// refs lists the given references in their full representation.
func (s *Server) refs(list []model.Ref, context string) source {
	return source{n: len(list), context: context, at: func(i int) model.Obj { return s.t.Render(list[i]) }}
}

// find resolves an id segment to a live object of kind k.
func (s *Server) find(id string, k model.Kind) (model.Ref, *graphError) {
	mid, ok := model.ParseID(id)
	if !ok {
		return 0, errf(400, "Request_BadRequest", "Invalid object identifier '"+id+"'.")
	}
	r, ok := s.t.Lookup(mid)
	if !ok || r.Kind() != k || !s.t.IsLive(r) {
		return 0, errNotFound(id)
	}
	return r, nil
}

// readBody decodes a JSON request body, gunzipping it when the SDK
// compressed it (graph.md §1 row 5).
func readBody(c *reqCtx) (map[string]any, *graphError) {
	var rd io.Reader = c.r.Body
	if strings.EqualFold(c.r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(c.r.Body)
		if err != nil {
			return nil, errf(400, "BadRequest", "Invalid gzip request body.")
		}
		defer zr.Close()
		rd = zr
	}
	var m map[string]any
	if err := json.NewDecoder(io.LimitReader(rd, 8<<20)).Decode(&m); err != nil {
		return nil, errf(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
	}
	return m, nil
}

// ExpireDeltaTokens makes every delta token issued so far expired.
// It is kept in the tenant, so it survives a restart.
func (s *Server) ExpireDeltaTokens() { s.t.Lock(); s.t.DeltaExpired = s.now().UnixNano(); s.t.Unlock() }

// Counters returns a snapshot of request counters.
func (s *Server) Counters() Snapshot { return s.stats.snapshot() }

// SetFaults replaces the fault-injection settings.
func (s *Server) SetFaults(f Faults) { s.faults.set(f) }

// sortedKeys is used where a deterministic order of map keys matters.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
