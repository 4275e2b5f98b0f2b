package repository

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// store is the repository's only access to the bucket. It adds durability
// for local directories (fileblob renames but never fsyncs) and maps gocloud
// error codes onto the repository's vocabulary.
type store struct {
	b   *blob.Bucket
	dir string // root directory when the bucket is file://, for fsync
	// fault injects failures in tests; nil in production.
	fault faultFunc
	// keepOpen leaves the bucket open on Close (tests sharing a bucket).
	keepOpen bool
}

func (s *store) inject(op, key string) error {
	if s.fault == nil {
		return nil
	}
	return s.fault(op, key)
}

func newStore(b *blob.Bucket, blobURL string) *store {
	s := &store{b: b}
	if u, err := url.Parse(blobURL); err == nil && u.Scheme == "file" {
		s.dir = filepath.FromSlash(u.Path)
	}
	return s
}

var errBlobExists = errors.New("blob exists")

// put writes key once. It fails with errBlobExists if key is present (names
// are content-derived, so for packs that means the same content is already
// stored). On file:// the file and its directory are fsynced before put
// returns: once a manifest is acknowledged it survives power loss.
func (s *store) put(ctx context.Context, key string, data []byte) error {
	if err := s.inject("put", key); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	// NewWriter, not WriteAll: WriteAll computes an MD5 we do not need (GCM
	// authenticates everything) and the type is set to skip sniffing.
	w, err := s.b.NewWriter(ctx, key, &blob.WriterOptions{
		IfNotExist:  true,
		ContentType: "application/octet-stream",
		BufferSize:  8 << 20,
	})
	if err == nil {
		_, err = w.Write(data)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		if gcerrors.Code(err) == gcerrors.FailedPrecondition {
			return fmt.Errorf("%s: %w", key, errBlobExists)
		}
		return fmt.Errorf("write %s: %w", key, err)
	}
	return s.sync(key)
}

func (s *store) sync(key string) error {
	if s.dir == "" {
		return nil
	}
	p := filepath.Join(s.dir, filepath.FromSlash(key))
	if err := fsync(p); err != nil {
		return fmt.Errorf("fsync %s: %w", key, err)
	}
	if err := fsync(filepath.Dir(p)); err != nil {
		return fmt.Errorf("fsync dir of %s: %w", key, err)
	}
	return nil
}

func fsync(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *store) get(ctx context.Context, key string) ([]byte, error) {
	if err := s.inject("get", key); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	b, err := s.b.ReadAll(ctx, key)
	if err != nil {
		return nil, s.wrap(key, err)
	}
	return b, nil
}

func (s *store) getRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if err := s.inject("get", key); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	r, err := s.b.NewRangeReader(ctx, key, off, n, nil)
	if err != nil {
		return nil, s.wrap(key, err)
	}
	defer r.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return buf, nil
}

func (s *store) wrap(key string, err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return fmt.Errorf("read %s: %w", key, err)
}

type listed struct {
	name string // last path element
	size int64
}

// list returns the blobs directly under prefix whose names look like ours
// (hex); fileblob temp files left by a crash are ignored.
func (s *store) list(ctx context.Context, prefix string) ([]listed, error) {
	var out []listed
	it := s.b.List(&blob.ListOptions{Prefix: prefix + "/"})
	for {
		o, err := it.Next(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		if o.IsDir {
			continue
		}
		name := path.Base(o.Key)
		if !isHexName(name) {
			continue
		}
		out = append(out, listed{name: name, size: o.Size})
	}
}

func isHexName(s string) bool {
	if len(s) < 16 || len(s) > 128 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

func (s *store) del(ctx context.Context, key string) error {
	if err := s.inject("delete", key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	err := s.b.Delete(ctx, key)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if s.dir != "" {
		// A delete that a power loss could undo would let prune's order
		// (manifests before packs) be reversed on disk.
		if err := fsync(filepath.Dir(filepath.Join(s.dir, filepath.FromSlash(key)))); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("fsync dir of %s: %w", key, err)
		}
	}
	return nil
}

// faultFunc, when set (tests only), is consulted before every bucket
// operation and may fail it: op is "put", "get" or "delete".
type faultFunc func(op, key string) error
