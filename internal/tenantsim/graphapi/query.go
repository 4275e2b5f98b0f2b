package graphapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// query holds the OData system query options of a request. Keys are read
// with and without the $ (the SDK may send %24top, graph.md §1 row 4).
type query struct {
	raw       url.Values
	top       int // 0 = not given
	selects   []string
	filter    *expr
	count     bool // $count=true with ConsistencyLevel: eventual
	skipToken string
	deltaTok  string
	hasDelta  bool
}

func param(v url.Values, name string) (string, bool) {
	for _, k := range []string{"$" + name, name, "%24" + name} {
		if vals, ok := v[k]; ok && len(vals) > 0 {
			return vals[0], true
		}
	}
	return "", false
}

func parseQuery(r *http.Request) (*query, *graphError) {
	v := r.URL.Query()
	q := &query{raw: v}
	if s, ok := param(v, "top"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, errf(400, "Request_UnsupportedQuery", "Invalid page size specified: '"+s+"'.")
		}
		q.top = n
	}
	if s, ok := param(v, "select"); ok && s != "" {
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				q.selects = append(q.selects, f)
			}
		}
	}
	if s, ok := param(v, "filter"); ok {
		e, err := parseFilter(s)
		if err != nil {
			return nil, errBadFilter
		}
		q.filter = e
	}
	if s, ok := param(v, "count"); ok && strings.EqualFold(s, "true") {
		q.count = strings.EqualFold(r.Header.Get("ConsistencyLevel"), "eventual")
	}
	if s, ok := param(v, "search"); ok && s != "" && !strings.EqualFold(r.Header.Get("ConsistencyLevel"), "eventual") {
		return nil, errf(400, "Request_UnsupportedQuery", "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
	}
	q.skipToken, _ = param(v, "skiptoken")
	q.deltaTok, q.hasDelta = param(v, "deltatoken")
	return q, nil
}

// project applies $select: id and @odata.type always stay.
func (q *query) project(o map[string]any) map[string]any {
	if len(q.selects) == 0 || o == nil {
		return o
	}
	out := make(map[string]any, len(q.selects)+2)
	for _, k := range []string{"id", "@odata.type"} {
		if v, ok := o[k]; ok {
			out[k] = v
		}
	}
	for _, s := range q.selects {
		if v, ok := o[s]; ok {
			out[s] = v
		}
	}
	return out
}

// expr is a parsed $filter expression.
type expr struct {
	op          string // and, or, not, eq, ne, gt, ge, lt, le, in, startswith, endswith
	left, right *expr
	prop        string
	vals        []any
}

type lexer struct {
	s   string
	pos int
}

func (l *lexer) skip() {
	for l.pos < len(l.s) && l.s[l.pos] == ' ' {
		l.pos++
	}
}

// next returns the next token: a quoted string (with quotes), a bracket,
// comma or a bare word.
func (l *lexer) next() string {
	l.skip()
	if l.pos >= len(l.s) {
		return ""
	}
	c := l.s[l.pos]
	switch {
	case c == '(' || c == ')' || c == ',':
		l.pos++
		return string(c)
	case c == '\'':
		var b strings.Builder
		b.WriteByte('\'')
		for l.pos++; l.pos < len(l.s); l.pos++ {
			if l.s[l.pos] == '\'' {
				if l.pos+1 < len(l.s) && l.s[l.pos+1] == '\'' {
					b.WriteByte('\'')
					l.pos++
					continue
				}
				l.pos++
				b.WriteByte('\'')
				return b.String()
			}
			b.WriteByte(l.s[l.pos])
		}
		return "\x00" // unterminated
	}
	start := l.pos
	for l.pos < len(l.s) && !strings.ContainsRune(" (),'", rune(l.s[l.pos])) {
		l.pos++
	}
	return l.s[start:l.pos]
}

func (l *lexer) peek() string {
	p := l.pos
	t := l.next()
	l.pos = p
	return t
}

type filterErr struct{}

func (filterErr) Error() string { return "invalid filter" }

func parseFilter(s string) (e *expr, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(filterErr); ok {
				e, err = nil, filterErr{}
				return
			}
			panic(r)
		}
	}()
	l := &lexer{s: s}
	e = parseOr(l)
	if l.next() != "" {
		panic(filterErr{})
	}
	return e, nil
}

func parseOr(l *lexer) *expr {
	e := parseAnd(l)
	for strings.EqualFold(l.peek(), "or") {
		l.next()
		e = &expr{op: "or", left: e, right: parseAnd(l)}
	}
	return e
}

func parseAnd(l *lexer) *expr {
	e := parsePrimary(l)
	for strings.EqualFold(l.peek(), "and") {
		l.next()
		e = &expr{op: "and", left: e, right: parsePrimary(l)}
	}
	return e
}

func expect(l *lexer, tok string) {
	if l.next() != tok {
		panic(filterErr{})
	}
}

func parsePrimary(l *lexer) *expr {
	t := l.next()
	switch {
	case t == "(":
		e := parseOr(l)
		expect(l, ")")
		return e
	case strings.EqualFold(t, "not"):
		return &expr{op: "not", left: parsePrimary(l)}
	case strings.EqualFold(t, "startswith") || strings.EqualFold(t, "endswith"):
		expect(l, "(")
		prop := l.next()
		expect(l, ",")
		v := literal(l.next())
		expect(l, ")")
		return &expr{op: strings.ToLower(t), prop: prop, vals: []any{v}}
	case t == "" || !isIdent(t):
		panic(filterErr{})
	}
	op := strings.ToLower(l.next())
	switch op {
	case "eq", "ne", "gt", "ge", "lt", "le":
		return &expr{op: op, prop: t, vals: []any{literal(l.next())}}
	case "in":
		expect(l, "(")
		e := &expr{op: "in", prop: t}
		for {
			e.vals = append(e.vals, literal(l.next()))
			if tok := l.next(); tok == ")" {
				return e
			} else if tok != "," {
				panic(filterErr{})
			}
		}
	}
	panic(filterErr{})
}

func isIdent(s string) bool {
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '/' || r == '_' || r == '@' || r == '.') {
			return false
		}
	}
	return true
}

// literal decodes a filter literal: 'string', number, true/false/null,
// or a bare datetime/GUID.
func literal(tok string) any {
	switch {
	case tok == "" || tok == "\x00" || tok == "(" || tok == ")" || tok == ",":
		panic(filterErr{})
	case tok[0] == '\'':
		return tok[1 : len(tok)-1]
	case tok == "true":
		return true
	case tok == "false":
		return false
	case tok == "null":
		return nil
	}
	if f, err := strconv.ParseFloat(tok, 64); err == nil {
		return f
	}
	if _, err := time.Parse(time.RFC3339Nano, tok); err == nil {
		return tok
	}
	if len(tok) == 36 && strings.Count(tok, "-") == 4 {
		return tok
	}
	panic(filterErr{})
}

// eval evaluates e against a rendered object.
func (e *expr) eval(o map[string]any) bool {
	switch e.op {
	case "and":
		return e.left.eval(o) && e.right.eval(o)
	case "or":
		return e.left.eval(o) || e.right.eval(o)
	case "not":
		return !e.left.eval(o)
	}
	v := lookup(o, e.prop)
	switch e.op {
	case "in":
		for _, w := range e.vals {
			if compare(v, w) == 0 {
				return true
			}
		}
		return false
	case "startswith", "endswith":
		s, ok1 := v.(string)
		p, ok2 := e.vals[0].(string)
		if !ok1 || !ok2 {
			return false
		}
		s, p = strings.ToLower(s), strings.ToLower(p)
		if e.op == "startswith" {
			return strings.HasPrefix(s, p)
		}
		return strings.HasSuffix(s, p)
	}
	c := compare(v, e.vals[0])
	switch e.op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c == 1
	case "ge":
		return c == 0 || c == 1
	case "lt":
		return c == -1
	case "le":
		return c == 0 || c == -1
	}
	return false
}

func lookup(o map[string]any, path string) any {
	var cur any = o
	for _, p := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// compare returns -1, 0, 1, or 2 when the values are not comparable.
func compare(a, b any) int {
	if a == nil || b == nil {
		if a == nil && b == nil {
			return 0
		}
		return 2
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		if !ok {
			return 2
		}
		if tx, err := time.Parse(time.RFC3339Nano, x); err == nil {
			if ty, err := time.Parse(time.RFC3339Nano, y); err == nil {
				return tx.Compare(ty)
			}
		}
		return strings.Compare(strings.ToLower(x), strings.ToLower(y))
	case bool:
		if y, ok := b.(bool); ok && x == y {
			return 0
		}
		return 2
	case int, float64:
		fx := toFloat(x)
		fy, ok := b.(float64)
		if !ok {
			return 2
		}
		switch {
		case fx < fy:
			return -1
		case fx > fy:
			return 1
		}
		return 0
	}
	return 2
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case float64:
		return n
	}
	return 0
}

// timeRange extracts prop ge/gt/le/lt bounds joined by "and" at the top
// level, so log listings can binary-search instead of scanning.
func (e *expr) timeRange(prop string) (from, to time.Time) {
	if e == nil {
		return
	}
	var walk func(e *expr)
	walk = func(e *expr) {
		switch e.op {
		case "and":
			walk(e.left)
			walk(e.right)
		case "ge", "gt", "le", "lt", "eq":
			if !strings.EqualFold(e.prop, prop) {
				return
			}
			s, _ := e.vals[0].(string)
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return
			}
			if e.op != "le" && e.op != "lt" && (from.IsZero() || t.After(from)) {
				from = t
			}
			if e.op != "ge" && e.op != "gt" && (to.IsZero() || t.Before(to)) {
				to = t
			}
		}
	}
	walk(e)
	return
}

// idSet returns the ids of a pure "id eq 'x' or id in (...)" filter.
func (e *expr) idSet() ([]string, bool) { return e.valuesOf("id") }

// valuesOf returns the values of a pure "prop eq 'x' or prop in (...)"
// filter.
func (e *expr) valuesOf(prop string) ([]string, bool) {
	if e == nil {
		return nil, false
	}
	switch e.op {
	case "or":
		a, ok1 := e.left.valuesOf(prop)
		b, ok2 := e.right.valuesOf(prop)
		return append(a, b...), ok1 && ok2
	case "eq", "in":
		if e.prop != prop {
			return nil, false
		}
		var out []string
		for _, v := range e.vals {
			s, ok := v.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// uses reports whether the expression contains operator op.
func (e *expr) uses(op string) bool {
	if e == nil {
		return false
	}
	return e.op == op || e.left.uses(op) || e.right.uses(op)
}
