package activities

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/go-json-experiment/json/jsontext"
)

// A relationship (members, owners, manager) is stored as a list of
// references {"@odata.type","id"} sorted by id. Large groups carry
// hundreds of thousands of them, so they are parsed and written here
// without reflection.

// refSet is a relationship being assembled: id → @odata.type.
type refSet map[string]string

// eachRef calls fn for every reference in a JSON array of directory
// objects, as members@delta, an expansion or a /members page sends them;
// removed marks an "@removed" entry of a delta. A lone object counts as a
// one-item array. Entries without an id are skipped.
func eachRef(raw []byte, fn func(typ, id string, removed bool)) error {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), lenient...)
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case '{':
		return readRef(dec, fn)
	case '[':
	default:
		return fmt.Errorf("relationship is neither a list nor an object")
	}
	for dec.PeekKind() != ']' {
		if tok, err = dec.ReadToken(); err != nil {
			return err
		}
		if tok.Kind() != '{' {
			if err := skipRest(dec, tok); err != nil {
				return err
			}
			continue
		}
		if err := readRef(dec, fn); err != nil {
			return err
		}
	}
	_, err = dec.ReadToken()
	return err
}

// readRef reads one reference object after its opening brace.
func readRef(dec *jsontext.Decoder, fn func(typ, id string, removed bool)) error {
	var typ, id string
	removed := false
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		switch name := tok.String(); name {
		case "@odata.type", "id":
			v, err := dec.ReadToken()
			if err != nil {
				return err
			}
			if v.Kind() == '"' {
				if name == "id" {
					id = v.String()
				} else {
					typ = v.String()
				}
			} else if err := skipRest(dec, v); err != nil {
				return err
			}
		case "@removed":
			removed = true
			if err := dec.SkipValue(); err != nil {
				return err
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return err
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	if id != "" {
		fn(typ, id, removed)
	}
	return nil
}

// skipRest skips the rest of a value whose first token was already read.
func skipRest(dec *jsontext.Decoder, first jsontext.Token) error {
	if k := first.Kind(); k != '{' && k != '[' {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		switch tok.Kind() {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
	}
	return nil
}

// add folds a JSON list of references into s; @removed entries leave it.
func (s refSet) add(raw []byte) error {
	return eachRef(raw, func(typ, id string, removed bool) {
		if removed {
			delete(s, id)
		} else {
			s[id] = typ
		}
	})
}

// encode writes {"value":[…]} with references sorted by id: the stored
// form of a relationship, already canonical JSON.
func (s refSet) encode() []byte {
	ids := make([]string, 0, len(s))
	for id := range s {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b := make([]byte, 0, 16+len(ids)*72)
	b = append(b, `{"value":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if typ := s[id]; typ != "" {
			b = append(b, `"@odata.type":`...)
			b, _ = jsontext.AppendQuote(b, typ)
			b = append(b, ',')
		}
		b = append(b, `"id":`...)
		b, _ = jsontext.AppendQuote(b, id)
		b = append(b, '}')
	}
	return append(b, `]}`...)
}
