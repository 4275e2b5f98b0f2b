package activities

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// member is one top-level property of a JSON object, its value kept as the
// exact bytes Graph sent.
type member struct {
	Name  string
	Value json.RawMessage
}

// splitObject lists an object's top-level members in order.
func splitObject(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{Name: name, Value: v})
	}
	return out, nil
}

// joinObject writes members back as an object, values byte for byte.
func joinObject(ms []member) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(m.Name)
		b.Write(name)
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
