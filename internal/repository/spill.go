package repository

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
)

// A writer's changes would otherwise grow with the tenant: a full run of
// 500k users holds a million entries. Past spillMin entries, Checkpoint
// moves them to a sorted run in a temporary file (they are durable in the
// checkpoint chain by then; the file is only a local copy to merge from) and
// keeps an 8-byte hash per key, so Put still knows which keys this run
// already wrote. Commit merges the runs in one streaming pass per use.
var spillMin = 1 << 14

// sparseEvery is how many entries of a run share one in-memory index
// point: a lookup reads at most that many entries from the file.
const sparseEvery = 128

// spillRun is one sorted run of entries in an unlinked temporary file.
type spillRun struct {
	f      *os.File
	size   int64
	sparse []sparsePoint
}

type sparsePoint struct {
	key string
	off int64
}

var keySeed = maphash.MakeSeed()

func keyHash(key string) uint64 { return maphash.String(keySeed, key) }

// appendEntry is one entry of encodeEntries' body.
func appendEntry(out []byte, e entry) []byte {
	out = binary.AppendUvarint(out, uint64(len(e.key)))
	out = append(out, e.key...)
	if e.deleted {
		return append(out, 1)
	}
	out = append(out, 0)
	out = append(out, e.cid[:]...)
	out = append(out, e.sum[:]...)
	return binary.AppendUvarint(out, uint64(e.size))
}

// readEntry reads one appendEntry record; io.EOF at a clean end.
func readEntry(r *bufio.Reader) (entry, error) {
	var e entry
	l, err := binary.ReadUvarint(r)
	if err != nil {
		return e, err
	}
	buf := make([]byte, l+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return e, errBadTree
	}
	e.key, e.deleted = string(buf[:l]), buf[l] == 1
	if e.deleted {
		return e, nil
	}
	var fixed [48]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return e, errBadTree
	}
	copy(e.cid[:], fixed[:32])
	copy(e.sum[:], fixed[32:])
	sz, err := binary.ReadUvarint(r)
	if err != nil {
		return e, errBadTree
	}
	e.size = uint32(sz)
	return e, nil
}

// writeRun writes sorted entries to a new unlinked temporary file.
func writeRun(es []entry) (*spillRun, error) {
	f, err := os.CreateTemp("", "entravault-spill-*")
	if err != nil {
		return nil, fmt.Errorf("writer: spill: %w", err)
	}
	_ = os.Remove(f.Name()) // open files outlive their name (not on Windows: close removes it)
	run := &spillRun{f: f}
	bw := bufio.NewWriterSize(f, 64<<10)
	var rec []byte
	for i, e := range es {
		if i%sparseEvery == 0 {
			run.sparse = append(run.sparse, sparsePoint{key: e.key, off: run.size})
		}
		rec = appendEntry(rec[:0], e)
		bw.Write(rec)
		run.size += int64(len(rec))
	}
	if err := bw.Flush(); err != nil {
		run.close()
		return nil, fmt.Errorf("writer: spill: %w", err)
	}
	return run, nil
}

// close closes and removes the run's file.
func (s *spillRun) close() {
	s.f.Close()
	_ = os.Remove(s.f.Name())
}

func (s *spillRun) reader(off int64) *bufio.Reader {
	return bufio.NewReaderSize(io.NewSectionReader(s.f, off, s.size-off), 32<<10)
}

// lookup finds key in the run.
func (s *spillRun) lookup(key string) (entry, bool, error) {
	i, found := slices.BinarySearchFunc(s.sparse, key, func(p sparsePoint, k string) int { return strings.Compare(p.key, k) })
	if !found {
		i--
	}
	if i < 0 {
		return entry{}, false, nil
	}
	// One read of the block the key would be in (it ends where the next
	// index point starts), decoded in place: a lookup per Has or Put of a
	// key this run already wrote must stay cheap.
	end := s.size
	if i+1 < len(s.sparse) {
		end = s.sparse[i+1].off
	}
	bp := spillBlocks.Get().(*[]byte)
	defer spillBlocks.Put(bp)
	buf := slices.Grow((*bp)[:0], int(end-s.sparse[i].off))[:end-s.sparse[i].off]
	*bp = buf
	if _, err := s.f.ReadAt(buf, s.sparse[i].off); err != nil {
		return entry{}, false, fmt.Errorf("writer: spill: %w", err)
	}
	for len(buf) > 0 {
		k, e, n, err := decodeEntry(buf)
		if err != nil {
			return entry{}, false, err
		}
		if c := strings.Compare(string(k), key); c >= 0 { // compared in place, no copy
			e.key = key
			return e, c == 0, nil
		}
		buf = buf[n:]
	}
	return entry{}, false, nil
}

var spillBlocks = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// mergeRuns calls fn with every key's newest entry, in key order: the runs
// oldest first, then mem (sorted, newest of all).
func mergeRuns(runs []*spillRun, mem []entry, fn func(entry) error) error {
	type source struct {
		r   *bufio.Reader
		cur entry
		ok  bool
	}
	srcs := make([]*source, 0, len(runs))
	next := func(s *source) error {
		e, err := readEntry(s.r)
		if err == io.EOF {
			s.ok = false
			return nil
		}
		if err != nil {
			return fmt.Errorf("writer: spill: %w", err)
		}
		s.cur, s.ok = e, true
		return nil
	}
	for _, run := range runs {
		s := &source{r: run.reader(0)}
		if err := next(s); err != nil {
			return err
		}
		srcs = append(srcs, s)
	}
	m := 0
	for {
		// Linear over the sources: a run is a checkpoint's worth of
		// entries, so there are few.
		var key string
		have := false
		for _, s := range srcs {
			if s.ok && (!have || s.cur.key < key) {
				key, have = s.cur.key, true
			}
		}
		if m < len(mem) && (!have || mem[m].key <= key) {
			key, have = mem[m].key, true
		}
		if !have {
			return nil
		}
		var e entry
		for _, s := range srcs { // oldest to newest: the last one wins
			if s.ok && s.cur.key == key {
				e = s.cur
				if err := next(s); err != nil {
					return err
				}
			}
		}
		if m < len(mem) && mem[m].key == key {
			e = mem[m]
			m++
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// spilled is a sorted set of key hashes.
type spilled []uint64

func (s spilled) has(key string) bool {
	_, ok := slices.BinarySearch(s, keyHash(key))
	return ok
}

// add returns s with the keys of es.
func (s spilled) add(es []entry) spilled {
	hs := make([]uint64, len(es))
	for i, e := range es {
		hs[i] = keyHash(e.key)
	}
	slices.Sort(hs)
	out := make(spilled, 0, len(s)+len(hs))
	i, j := 0, 0
	for i < len(s) || j < len(hs) {
		switch {
		case j == len(hs) || (i < len(s) && s[i] < hs[j]):
			out = append(out, s[i])
			i++
		case i == len(s) || hs[j] < s[i]:
			out = append(out, hs[j])
			j++
		default:
			out = append(out, s[i])
			i, j = i+1, j+1
		}
	}
	return slices.Compact(out)
}
