package repository

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/entravault/entravault/internal/repository/crypto"
	"github.com/klauspost/compress/zstd"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // OpenLocal
	_ "gocloud.dev/blob/memblob"  // TestRepository
	"gocloud.dev/secrets"
	_ "gocloud.dev/secrets/localsecrets" // base64key:// for the dev default
)

// Config says where a repository lives.
type Config struct {
	// BlobURL is a gocloud.dev/blob URL: file://, mem://, azblob://, s3://, gs://.
	BlobURL string
	// SecretsURL is a gocloud.dev/secrets keeper URL that wraps the data key:
	// base64key:// (dev), azurekeyvault://, awskms://, gcpkms://.
	SecretsURL string

	// PackSize is the target pack size in bytes; zero means 12 MiB.
	PackSize int
	// GroupSize is the uncompressed size of a compression group; zero means
	// 256 KiB. Larger groups compress better (1 MiB: 5% smaller), smaller
	// ones make random reads and delta bases cheaper (1 MiB: 3x slower
	// incrementals).
	GroupSize int
}

const (
	formatVersion    = 1
	defaultPackSize  = 12 << 20
	defaultGroupSize = 256 << 10
)

// Repository is an open repository. It is safe for concurrent use; several
// writers may run at once.
type Repository struct {
	st        *store
	keys      *crypto.Keys
	id        string
	packSize  int
	groupSize int

	idx    *index
	snaps  *snapshotCache
	trees  *blobCache // decoded tree blobs by content id
	groups *blobCache // decompressed groups by pack/group

	closeOnce sync.Once
}

// configFile is stored in plaintext: it holds nothing usable without the
// keeper.
type configFile struct {
	Version    int    `json:"version"`
	ID         string `json:"id"`
	WrappedKey []byte `json:"wrapped_key"`
	KeyCheck   string `json:"key_check"`
}

func openBucketAndKeeper(ctx context.Context, cfg Config) (*blob.Bucket, *secrets.Keeper, error) {
	if err := checkSecretsURL(cfg.SecretsURL); err != nil {
		return nil, nil, err
	}
	b, err := blob.OpenBucket(ctx, cfg.BlobURL)
	if err != nil {
		return nil, nil, fmt.Errorf("open bucket: %w", err)
	}
	k, err := secrets.OpenKeeper(ctx, cfg.SecretsURL)
	if err != nil {
		b.Close()
		// The keeper URL may embed key material; never echo it.
		return nil, nil, fmt.Errorf("open keeper %s: %w", redact(cfg.SecretsURL), err)
	}
	return b, k, nil
}

// checkSecretsURL rejects an empty base64key://, which gocloud silently
// replaces by a fresh random key on every open.
func checkSecretsURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return errors.New("secrets URL: missing or malformed")
	}
	if u.Scheme == "base64key" && u.Host == "" {
		return errors.New("secrets URL: base64key:// needs a key (an empty one means a new random key each time)")
	}
	return nil
}

// redact keeps only the scheme of a keeper URL.
func redact(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		return s[:i+3] + "…"
	}
	return "…"
}

// Init creates a repository with a fresh random data key wrapped by the
// keeper. It fails with ErrExists if the bucket already has one.
func Init(ctx context.Context, cfg Config) (*Repository, error) {
	b, k, err := openBucketAndKeeper(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	r, err := initStore(ctx, newStore(b, cfg.BlobURL), k, cfg)
	if err != nil {
		b.Close()
	}
	return r, err
}

func initStore(ctx context.Context, st *store, k *secrets.Keeper, cfg Config) (*Repository, error) {
	if ok, err := st.b.Exists(ctx, "config"); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	} else if ok {
		return nil, ErrExists
	}
	dataKey := crypto.NewDataKey()
	keys, err := crypto.Derive(dataKey)
	if err != nil {
		return nil, err
	}
	wrapped, err := k.Encrypt(ctx, dataKey)
	if err != nil {
		return nil, fmt.Errorf("init: wrap data key: %w", err)
	}
	cf := configFile{Version: formatVersion, ID: randomName(), WrappedKey: wrapped, KeyCheck: keys.Check()}
	data, _ := json.Marshal(cf)
	if err := st.put(ctx, "config", data); err != nil {
		if errors.Is(err, errBlobExists) {
			return nil, ErrExists
		}
		return nil, fmt.Errorf("init: %w", err)
	}
	return newRepository(st, keys, cf.ID, cfg), nil
}

// Open opens an existing repository. A keeper that cannot unwrap the data
// key gives ErrWrongKey; a bucket without a repository ErrNoRepository.
func Open(ctx context.Context, cfg Config) (*Repository, error) {
	b, k, err := openBucketAndKeeper(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	r, err := openStore(ctx, newStore(b, cfg.BlobURL), k, cfg)
	if err != nil {
		b.Close()
	}
	return r, err
}

func openStore(ctx context.Context, st *store, k *secrets.Keeper, cfg Config) (*Repository, error) {
	data, err := st.get(ctx, "config")
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrNoRepository
		}
		return nil, fmt.Errorf("open: %w", err)
	}
	var cf configFile
	if err := json.Unmarshal(data, &cf); err != nil {
		return nil, fmt.Errorf("open: config: %w: %v", ErrCorrupt, err)
	}
	if cf.Version != formatVersion {
		return nil, fmt.Errorf("open: unsupported repository format %d", cf.Version)
	}
	dataKey, err := k.Decrypt(ctx, cf.WrappedKey)
	if err != nil {
		// The keeper's own error is kept for operators (KMS permission vs
		// wrong key); it never includes key material.
		return nil, fmt.Errorf("open: %w (keeper: %v)", ErrWrongKey, err)
	}
	keys, err := crypto.Derive(dataKey)
	if err != nil || keys.Check() != cf.KeyCheck {
		return nil, fmt.Errorf("open: %w", ErrWrongKey)
	}
	r := newRepository(st, keys, cf.ID, cfg)
	if err := r.refreshIndex(ctx); err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return r, nil
}

func newRepository(st *store, keys *crypto.Keys, id string, cfg Config) *Repository {
	r := &Repository{
		st: st, keys: keys, id: id,
		packSize: cfg.PackSize, groupSize: cfg.GroupSize,
		idx:    newIndex(),
		snaps:  newSnapshotCache(),
		trees:  newBlobCache(64 << 20),
		groups: newBlobCache(32 << 20),
	}
	if r.packSize <= 0 {
		r.packSize = defaultPackSize
	}
	if r.groupSize <= 0 {
		r.groupSize = defaultGroupSize
	}
	return r
}

// packBuffer is the buffer size a pack builder needs: a pack is sealed
// once it reaches packSize (header included), so it holds at most one
// group (and its header entries) more.
func (r *Repository) packBuffer() int { return r.packSize + 2*r.groupSize }

// ID is the repository's random id, set at init.
func (r *Repository) ID() string { return r.id }

// Close releases the bucket. Writers must be committed or aborted first.
func (r *Repository) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.idx.mu.Lock()
		r.idx.byID.free()
		r.idx.byID = newIDTable()
		r.idx.mu.Unlock()
		if !r.st.keepOpen {
			err = r.st.b.Close()
		}
	})
	return err
}

// LocalURLs returns the blob and secrets URLs OpenLocal uses for dataDir,
// creating the key file on first use. The key is 32 random bytes in
// dataDir/repo.key (0600), outside the bucket directory.
func LocalURLs(dataDir string) (Config, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return Config{}, err
	}
	if err := os.MkdirAll(filepath.Join(abs, "blobs"), 0o700); err != nil {
		return Config{}, err
	}
	keyPath := filepath.Join(abs, "repo.key")
	key, err := os.ReadFile(keyPath)
	if errors.Is(err, os.ErrNotExist) {
		k := make([]byte, 32)
		rand.Read(k)
		enc := base64.URLEncoding.EncodeToString(k)
		f, ferr := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if ferr == nil {
			_, ferr = f.WriteString(enc + "\n")
			if ferr == nil {
				ferr = f.Sync()
			}
			if cerr := f.Close(); ferr == nil {
				ferr = cerr
			}
			if ferr == nil {
				ferr = fsync(abs)
			}
		}
		if ferr != nil && !errors.Is(ferr, os.ErrExist) {
			return Config{}, fmt.Errorf("create key file: %w", ferr)
		}
		key, err = os.ReadFile(keyPath) // another process may have won the race
	}
	if err != nil {
		return Config{}, fmt.Errorf("read key file: %w", err)
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(abs, "blobs")),
		RawQuery: "create_dir=1&no_tmp_dir=1&metadata=skip"}
	return Config{
		BlobURL:    u.String(),
		SecretsURL: "base64key://" + strings.TrimSpace(string(key)),
	}, nil
}

// LocalConfig returns the URLs of an existing dev-default repository under
// dataDir without creating anything; ErrNoRepository if its key file is
// missing.
func LocalConfig(dataDir string) (Config, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return Config{}, err
	}
	if _, err := os.Stat(filepath.Join(abs, "repo.key")); err != nil {
		return Config{}, fmt.Errorf("%w: no key file in %s", ErrNoRepository, abs)
	}
	return LocalURLs(dataDir)
}

// OpenLocal opens the dev-default repository under dataDir (blobs in
// dataDir/blobs, key in dataDir/repo.key), creating both on first use.
func OpenLocal(ctx context.Context, dataDir string) (*Repository, error) {
	cfg, err := LocalURLs(dataDir)
	if err != nil {
		return nil, err
	}
	return OpenOrInit(ctx, cfg)
}

// OpenOrInit opens the repository at cfg, creating it on a bucket that
// holds none yet, so a first deployment needs no separate init step. A
// wrong key is still ErrWrongKey: only a bucket without a config is
// initialised.
func OpenOrInit(ctx context.Context, cfg Config) (*Repository, error) {
	r, err := Open(ctx, cfg)
	if errors.Is(err, ErrNoRepository) {
		r, err = Init(ctx, cfg)
		if errors.Is(err, ErrExists) { // concurrent first use
			r, err = Open(ctx, cfg)
		}
	}
	return r, err
}

// sealBlob compresses and encrypts a small metadata blob (index, manifest);
// kind is bound as associated data so blobs cannot be swapped between kinds.
// The blob is stored under metaName(kind, plain).
func (r *Repository) sealBlob(kind string, plain []byte) []byte {
	return r.keys.SealRandom(zstdEnc.EncodeAll(plain, nil), []byte(kind))
}

// metaName is the name of a metadata blob: the keyed hash (HMAC-SHA256
// under a key derived from the data key) of its kind and plaintext.
// Every manifest and index file has been named this way since format 1.
func (r *Repository) metaName(kind string, plain []byte) string {
	return r.keys.Name([]byte(kind), plain)
}

// metaDir is where blobs of a kind live in the bucket.
func metaDir(kind string) string {
	if kind == "snapshot" {
		return "snapshots"
	}
	return kind
}

// openBlob opens the metadata blob stored at <kind dir>/name and checks that
// it belongs there.
//
// Binding to the name: GCM (associated data = kind) proves the plaintext is
// one we sealed as this kind; recomputing metaName(kind, plaintext) proves it
// was sealed for this name, because only holders of the key can compute that
// keyed hash. So a manifest or index file copied or renamed to another name
// fails with ErrCorrupt. This is the same guarantee as putting the name into
// the associated data, without a format change: blobs written by earlier
// versions carry the same names and are checked the same way, nothing falls
// back to a weaker check (so there is nothing to downgrade to), and older
// binaries still read what this one writes.
func (r *Repository) openBlob(kind, name string, sealed []byte) ([]byte, error) {
	path := metaDir(kind) + "/" + name
	z, err := r.keys.OpenRandom(sealed, []byte(kind))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	plain, err := zstdDec.DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: decompress: %v", ErrCorrupt, path, err)
	}
	if r.metaName(kind, plain) != name {
		return nil, fmt.Errorf("%w: %s: holds the %s of another name (copied or renamed in the bucket)", ErrCorrupt, path, kind)
	}
	return plain, nil
}

var (
	// A 1 MiB window: the default 8 MiB kept a 16 MiB history buffer alive
	// for index and manifest blobs, which gain little from it.
	zstdEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderCRC(false), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(1<<20))
	zstdDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(256<<20))
)
