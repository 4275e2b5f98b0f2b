package activities

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
)

// member is one top-level property of a JSON object, its value kept as the
// exact bytes Graph sent.
type member struct {
	Name  string
	Value json.RawMessage
}

// lenient accepts what Graph may send that strict RFC 8259 parsing would
// refuse; values are kept as bytes, never reinterpreted.
var lenient = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

// splitObject lists an object's top-level members in order. Values are
// slices of raw (no copies); invalid or truncated JSON is an error.
func splitObject(raw []byte) ([]member, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), lenient...)
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	if tok.Kind() != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	out := make([]member, 0, 64)
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		name := tok.String()
		v, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		end := int(dec.InputOffset())
		out = append(out, member{Name: name, Value: raw[end-len(v) : end : end]})
	}
	if _, err := dec.ReadToken(); err != nil { // the closing brace
		return nil, err
	}
	return out, nil
}

// parsePage reads a Graph collection page. Items are slices of body.
func parsePage(body []byte) (graphPage, error) {
	var p graphPage
	dec := jsontext.NewDecoder(bytes.NewReader(body), lenient...)
	tok, err := dec.ReadToken()
	if err != nil {
		return p, err
	}
	if tok.Kind() != '{' {
		return p, fmt.Errorf("not a JSON object")
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return p, err
		}
		switch name := tok.String(); name {
		case "value":
			if tok, err = dec.ReadToken(); err != nil {
				return p, err
			}
			if tok.Kind() != '[' {
				return p, fmt.Errorf("value is not an array")
			}
			for dec.PeekKind() != ']' {
				v, err := dec.ReadValue()
				if err != nil {
					return p, err
				}
				end := int(dec.InputOffset())
				p.Value = append(p.Value, body[end-len(v):end:end])
			}
			if _, err := dec.ReadToken(); err != nil {
				return p, err
			}
		case "@odata.nextLink", "@odata.deltaLink":
			tok, err := dec.ReadToken()
			if err != nil {
				return p, err
			}
			if name == "@odata.nextLink" {
				p.NextLink = tok.String()
			} else {
				p.DeltaLink = tok.String()
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return p, err
			}
		}
	}
	_, err = dec.ReadToken()
	return p, err
}

// joinObject writes members back as an object, values byte for byte.
func joinObject(ms []member) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		if plainName(m.Name) {
			b.WriteByte('"')
			b.WriteString(m.Name)
			b.WriteByte('"')
		} else {
			name, _ := json.Marshal(m.Name)
			b.Write(name)
		}
		b.WriteByte(':')
		b.Write(m.Value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// mergeObject applies a delta update (id plus changed properties) onto the
// previous full version: changed values replace old ones in place, new
// properties are appended. Merging the same update twice gives the same
// result, so replays are harmless.
func mergeObject(prev, update []member) []member {
	out := append([]member(nil), prev...)
	idx := map[string]int{}
	for i, m := range out {
		idx[m.Name] = i
	}
	for _, m := range update {
		if i, ok := idx[m.Name]; ok {
			out[i] = m
			continue
		}
		idx[m.Name] = len(out)
		out = append(out, m)
	}
	return out
}

// without drops the named members.
func without(ms []member, names ...string) []member {
	out := ms[:0:0]
	for _, m := range ms {
		drop := false
		for _, n := range names {
			drop = drop || m.Name == n
		}
		if !drop {
			out = append(out, m)
		}
	}
	return out
}

func find(ms []member, name string) (json.RawMessage, bool) {
	for _, m := range ms {
		if m.Name == name {
			return m.Value, true
		}
	}
	return nil, false
}

// plainName: a property name that needs no escaping in JSON.
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}
