package activities

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/go-json-experiment/json/jsontext"
)

// A relationship (members, owners, manager) is stored as a list of
// references {"@odata.type","id"} sorted by id. Large groups carry
// hundreds of thousands of them, so they are parsed and written here
// without reflection.

// refSet is a relationship being assembled: id → @odata.type. Directory
// object ids are GUIDs: those in canonical lowercase form are kept as 16
// bytes and a type number (≈ 30 bytes a reference where strings took
// ≈ 95), since an "all users" group holds every user of the tenant.
type refSet struct {
	guids map[[16]byte]uint8
	other map[string]uint8
	types []string // type numbers → @odata.type
}

func newRefSet() *refSet { return &refSet{guids: map[[16]byte]uint8{}, other: map[string]uint8{}} }

func (s *refSet) len() int { return len(s.guids) + len(s.other) }

func (s *refSet) clear() { clear(s.guids); clear(s.other) }

func (s *refSet) typeNum(typ string) uint8 {
	for i, t := range s.types {
		if t == typ {
			return uint8(i)
		}
	}
	if len(s.types) == 255 {
		return 255 // past 255 distinct types (never in Graph): "unknown"
	}
	s.types = append(s.types, typ)
	return uint8(len(s.types) - 1)
}

func (s *refSet) put(typ, id string) {
	if g, ok := parseGUID(id); ok {
		s.guids[g] = s.typeNum(typ)
	} else {
		s.other[id] = s.typeNum(typ)
	}
}

func (s *refSet) remove(id string) {
	if g, ok := parseGUID(id); ok {
		delete(s.guids, g)
	} else {
		delete(s.other, id)
	}
}

// parseGUID reads an id in canonical lowercase GUID form only, so that
// formatting it again gives back the same string.
func parseGUID(id string) (g [16]byte, ok bool) {
	if len(id) != 36 {
		return g, false
	}
	j := 0
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if id[i] != '-' {
				return g, false
			}
			continue
		}
		hi, ok1 := fromHex(id[i])
		lo, ok2 := fromHex(id[i+1])
		if !ok1 || !ok2 {
			return g, false
		}
		g[j] = hi<<4 | lo
		j++
		i++
	}
	return g, true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// appendGUID appends g in canonical lowercase form.
func appendGUID(b []byte, g [16]byte) []byte {
	const hex = "0123456789abcdef"
	for i, c := range g {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&15])
	}
	return b
}

// eachRef calls fn for every reference in a JSON array of directory
// objects, as members@delta, an expansion or a /members page sends them;
// removed marks an "@removed" entry of a delta. A lone object counts as a
// one-item array. Entries without an id are skipped.
func eachRef(raw []byte, fn func(typ, id string, removed bool)) error {
	return eachRefIn(jsontext.NewDecoder(bytes.NewReader(raw), lenient...), fn)
}

// eachRefIn is eachRef for the next value of dec.
func eachRefIn(dec *jsontext.Decoder, fn func(typ, id string, removed bool)) error {
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
func (s *refSet) add(raw []byte) error { return eachRef(raw, s.fold) }

func (s *refSet) fold(typ, id string, removed bool) {
	if removed {
		s.remove(id)
	} else {
		s.put(typ, id)
	}
}

// addStored folds a stored relationship object {"value":[…]} into s,
// read as a stream: a large one comes from the repository part by part.
func (s *refSet) addStored(rd io.Reader) error {
	dec := jsontext.NewDecoder(rd, lenient...)
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != '{' {
		return fmt.Errorf("stored relationship is not an object")
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if name.String() != "value" {
			err = dec.SkipValue()
		} else {
			err = eachRefIn(dec, s.fold)
		}
		if err != nil {
			return err
		}
	}
	_, err = dec.ReadToken()
	return err
}

// encode writes {"value":[…]} with references sorted by id: the stored
// form of a relationship, already canonical JSON. GUIDs sort as their bytes
// do (lowercase hex keeps the order) and are written straight from them.
func (s *refSet) encode() []byte {
	b, _ := s.write(make([]byte, 0, 16+s.len()*72), nil)
	return b
}

// A stored list of more than 6×every references (≈ 1 MB at the default
// every) is written in parts (Writer.PutParts), so neither the backup nor
// the repository holds it whole; a smaller one is one object, which the
// repository stores as a small delta when a few members change.
const defaultPartRefs = 2048

func storedInParts(n, every int) bool { return n > 6*every }

// encodeParts is encode in parts, handed to yield one at a time (the
// buffer is reused). A part ends after a reference whose id hashes to a
// multiple of every, once it holds every/4 references (at most 4×every):
// the ids decide, so a member joining or leaving changes one part.
func (s *refSet) encodeParts(every int, yield func(part []byte) error) error {
	n := 0
	b, err := s.write(nil, func(b, id []byte) ([]byte, error) {
		n++
		if n >= 4*every || n >= every/4 && fnv64a(id)%uint64(every) == 0 {
			n = 0
			return b[:0], yield(b)
		}
		return b, nil
	})
	if err != nil {
		return err
	}
	return yield(b)
}

func fnv64a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

// write appends the stored form to b; after each reference, cut (if set)
// may hand b on and return it emptied.
func (s *refSet) write(b []byte, cut func(b, id []byte) ([]byte, error)) ([]byte, error) {
	type guidRef struct {
		g   [16]byte
		typ uint8
	}
	guids := make([]guidRef, 0, len(s.guids))
	for g, t := range s.guids {
		guids = append(guids, guidRef{g, t})
	}
	slices.SortFunc(guids, func(a, b guidRef) int { return bytes.Compare(a.g[:], b.g[:]) })
	others := make([]string, 0, len(s.other))
	for id := range s.other {
		others = append(others, id)
	}
	slices.Sort(others)
	b = append(b, `{"value":[`...)
	first := true
	write := func(id []byte, typ uint8) (err error) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '{')
		if name := s.typeName(typ); name != "" {
			b = append(b, `"@odata.type":`...)
			b, _ = jsontext.AppendQuote(b, name)
			b = append(b, ',')
		}
		b = append(b, `"id":`...)
		b, _ = jsontext.AppendQuote(b, id)
		b = append(b, '}')
		if cut != nil {
			b, err = cut(b, id)
		}
		return err
	}
	var text [36]byte
	i, j := 0, 0
	for i < len(guids) || j < len(others) {
		if i < len(guids) {
			appendGUID(text[:0], guids[i].g)
		}
		var err error
		if j == len(others) || i < len(guids) && string(text[:]) < others[j] {
			err = write(text[:], guids[i].typ)
			i++
		} else {
			err = write([]byte(others[j]), s.other[others[j]])
			j++
		}
		if err != nil {
			return nil, err
		}
	}
	return append(b, `]}`...), nil
}

func (s *refSet) typeName(n uint8) string {
	if int(n) < len(s.types) {
		return s.types[n]
	}
	return ""
}
