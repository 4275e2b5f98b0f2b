package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

const (
	// TokenPrefix starts every API key token: "evk_<id>_<secret>".
	TokenPrefix = "evk_"
	// DefaultKeyPrefix is where keys live in the bucket.
	DefaultKeyPrefix = "apikeys/"
	// DefaultCacheTTL bounds how long a revoked key keeps working in a
	// process other than the one that revoked it.
	DefaultCacheTTL = 5 * time.Second

	idBytes     = 8  // 16 hex characters; not secret, only an address
	secretBytes = 32 // 256 bits from crypto/rand
	maxNameLen  = 100
	maxCache    = 10000
	// staleClaim is how old a name claim pointing at a missing key must be
	// before Create may take it over: younger ones may belong to a Create
	// still in progress.
	staleClaim = time.Minute

	// RecordKeyPurpose is the purpose to derive the record key from the
	// snapshot repository with: WithRecordKey(repo.DeriveKey(RecordKeyPurpose)).
	RecordKeyPurpose = "entravault apikey records v1"
)

// secretEncoding is lower-case base32 without padding: 52 characters of
// [a-z2-7], so a token is one word (double-click selects it) and has no "_"
// after the ID.
var secretEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

var secretLen = secretEncoding.EncodedLen(secretBytes)

// Key describes an API key. It never holds the secret or its hash.
type Key struct {
	ID      string     `json:"id"`
	Name    string     `json:"name"`
	Role    Role       `json:"role"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
	// Unsigned is set by List on a record without a valid MAC under the
	// store's record key: written before records were signed, or forged.
	// Such a key is refused until `entravault apikey migrate` signs it.
	Unsigned bool `json:"unsigned,omitempty"`
}

// Live reports whether the key has not been revoked.
func (k Key) Live() bool { return k.Revoked == nil }

// storedKey is the JSON object in the bucket: the Key plus the SHA-256 of
// the secret and a MAC over both. A plain hash is enough: the secret has
// 256 random bits, so there is nothing to brute-force, and a slow KDF would
// make every request pay for it.
//
// The MAC is what makes the record trustworthy: whoever may write the
// bucket (but cannot use the KMS key that protects the repository) can
// write a record with a hash of their own and any role, or edit a real
// one, but cannot compute its MAC. See KeyStore.mac.
type storedKey struct {
	Key
	SHA256 string `json:"sha256"`
	MAC    string `json:"mac,omitempty"`
}

// KeyStore keeps API keys in a blob bucket and authenticates their tokens.
// It is safe for concurrent use. Several processes may share one bucket:
// Create claims names with conditional writes, and lookups are cached for
// at most the cache TTL, so a revocation made elsewhere takes effect within
// that time (immediately in the revoking process).
//
// Every record is MACed with the record key (WithRecordKey), and a record
// whose MAC does not verify is refused: a store without a record key
// creates nothing and accepts nothing.
type KeyStore struct {
	bucket    *blob.Bucket
	prefix    string
	ttl       time.Duration
	now       func() time.Time
	recordKey []byte

	mu    sync.Mutex
	cache map[string]cacheEntry
}

type cacheEntry struct {
	key     *Key // nil: no such key
	hash    [sha256.Size]byte
	expires time.Time
}

var errNoRecordKey = errors.New("auth: key store has no record key (WithRecordKey)")

// KeyStoreOption changes a KeyStore default.
type KeyStoreOption func(*KeyStore)

// WithPrefix stores keys under prefix instead of DefaultKeyPrefix.
func WithPrefix(prefix string) KeyStoreOption {
	return func(s *KeyStore) {
		if prefix != "" && !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		s.prefix = prefix
	}
}

// WithCacheTTL caches lookups for ttl instead of DefaultCacheTTL; 0 turns
// the cache off.
func WithCacheTTL(ttl time.Duration) KeyStoreOption {
	return func(s *KeyStore) { s.ttl = ttl }
}

// WithRecordKey MACs records with key, which must be at least 32 bytes and
// secret from whoever can write the bucket: the API and the CLI derive it
// from the snapshot repository, whose data key only the KMS keeper unwraps
// (repository.DeriveKey(RecordKeyPurpose)). Without it a store refuses
// every key.
func WithRecordKey(key []byte) KeyStoreOption {
	return func(s *KeyStore) {
		if len(key) >= 32 {
			s.recordKey = key
		}
	}
}

// NewKeyStore returns a store over bucket. The bucket stays the caller's to
// close.
func NewKeyStore(bucket *blob.Bucket, opts ...KeyStoreOption) *KeyStore {
	s := &KeyStore{
		bucket: bucket,
		prefix: DefaultKeyPrefix,
		ttl:    DefaultCacheTTL,
		now:    time.Now,
		cache:  map[string]cacheEntry{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *KeyStore) keyPath(id string) string { return s.prefix + "keys/" + id + ".json" }

// namePath is the claim object that makes names unique among live keys.
// Hashing the folded name keeps any character out of the object key.
func (s *KeyStore) namePath(name string) string {
	h := sha256.Sum256([]byte(strings.ToLower(name)))
	return s.prefix + "names/" + hex.EncodeToString(h[:])
}

// ValidateName checks an API key name: 1 to 100 characters, letters,
// digits and ". _ - @". The name is for display only: access lists admit a
// key by its ID (KeyPrincipalID), since a revoked key's name may be reused.
func ValidateName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("%w: must be 1 to %d characters", ErrInvalidName, maxNameLen)
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '.', r == '_', r == '-', r == '@':
		default:
			return fmt.Errorf("%w: %q is not allowed (letters, digits and . _ - @)", ErrInvalidName, r)
		}
	}
	return nil
}

// Create makes a key and returns its token, which is shown to the user once
// and never stored. Names are unique among live keys, ignoring case
// (ErrNameTaken); a revoked key's name may be reused.
func (s *KeyStore) Create(ctx context.Context, name string, role Role) (string, Key, error) {
	if s.recordKey == nil {
		return "", Key{}, errNoRecordKey
	}
	if err := ValidateName(name); err != nil {
		return "", Key{}, err
	}
	role, err := ParseRole(string(role))
	if err != nil {
		return "", Key{}, err
	}
	var raw [idBytes + secretBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Key{}, fmt.Errorf("auth: random: %w", err)
	}
	id := hex.EncodeToString(raw[:idBytes])
	secret := secretEncoding.EncodeToString(raw[idBytes:])
	hash := sha256.Sum256([]byte(secret))
	sk := storedKey{
		Key:    Key{ID: id, Name: name, Role: role, Created: s.now().UTC()},
		SHA256: hex.EncodeToString(hash[:]),
	}
	sk.MAC = s.mac(sk)

	// Creates in one process take turns per bucket: fileblob's IfNotExist
	// is a check then a rename, so two racing claims could both win.
	// Object stores (S3, Azure, GCS) make it atomic across processes.
	mu, _ := createLocks.LoadOrStore(s.bucket, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if err := s.claimName(ctx, name, id); err != nil {
		return "", Key{}, err
	}
	data, err := json.Marshal(sk)
	if err == nil {
		err = s.bucket.WriteAll(ctx, s.keyPath(id), data, &blob.WriterOptions{IfNotExist: true, ContentType: "application/json"})
	}
	if err != nil {
		// Release the name so a retry is not refused.
		_ = s.bucket.Delete(context.WithoutCancel(ctx), s.namePath(name))
		return "", Key{}, fmt.Errorf("%w: write key: %v", ErrUnavailable, err)
	}
	return TokenPrefix + id + "_" + secret, sk.Key, nil
}

// createLocks serialises Create per bucket within a process.
var createLocks sync.Map // *blob.Bucket → *sync.Mutex

// claimName writes the name's claim object if absent. An existing claim is
// taken over only when it is stale: its key was revoked, or it points at a
// key that was never written and is older than staleClaim.
func (s *KeyStore) claimName(ctx context.Context, name, id string) error {
	path := s.namePath(name)
	for attempt := 0; attempt < 2; attempt++ {
		err := s.bucket.WriteAll(ctx, path, []byte(id), &blob.WriterOptions{IfNotExist: true, ContentType: "text/plain"})
		if err == nil {
			return nil
		}
		if gcerrors.Code(err) != gcerrors.FailedPrecondition {
			return fmt.Errorf("%w: claim name: %v", ErrUnavailable, err)
		}
		stale, err := s.staleClaim(ctx, path)
		if err != nil {
			return err
		}
		if !stale {
			return fmt.Errorf("%w: %q", ErrNameTaken, name)
		}
		if err := s.bucket.Delete(ctx, path); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return fmt.Errorf("%w: release name: %v", ErrUnavailable, err)
		}
	}
	return fmt.Errorf("%w: %q", ErrNameTaken, name)
}

func (s *KeyStore) staleClaim(ctx context.Context, path string) (bool, error) {
	owner, err := s.bucket.ReadAll(ctx, path)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return true, nil // released meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("%w: read name: %v", ErrUnavailable, err)
	}
	k, err := s.read(ctx, string(owner))
	if err != nil {
		return false, err
	}
	if k != nil {
		return !k.Live(), nil
	}
	attrs, err := s.bucket.Attributes(ctx, path)
	if err != nil {
		return false, fmt.Errorf("%w: read name: %v", ErrUnavailable, err)
	}
	return s.now().Sub(attrs.ModTime) > staleClaim, nil
}

// read loads one key from the bucket; nil, nil if there is none.
func (s *KeyStore) read(ctx context.Context, id string) (*storedKey, error) {
	if !validID(id) {
		return nil, nil
	}
	data, err := s.bucket.ReadAll(ctx, s.keyPath(id))
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read key %s: %v", ErrUnavailable, id, err)
	}
	var sk storedKey
	if err := json.Unmarshal(data, &sk); err != nil || sk.ID != id {
		return nil, fmt.Errorf("%w: key %s is corrupt", ErrUnavailable, id)
	}
	mac, err := hex.DecodeString(sk.MAC)
	sk.Unsigned = s.recordKey == nil || err != nil || !hmac.Equal(mac, s.macBytes(sk))
	return &sk, nil
}

// mac is the hex HMAC-SHA256, under the record key, of everything in the
// record that matters: its place (prefix and id), name, role, times and
// the secret's hash. The fields are a JSON array of strings, so no two
// records share an input.
func (s *KeyStore) mac(sk storedKey) string { return hex.EncodeToString(s.macBytes(sk)) }

func (s *KeyStore) macBytes(sk storedKey) []byte {
	revoked := ""
	if sk.Revoked != nil {
		revoked = sk.Revoked.UTC().Format(time.RFC3339Nano)
	}
	in, _ := json.Marshal([]string{"entravault apikey v1", s.prefix, sk.ID, sk.Name, string(sk.Role),
		sk.Created.UTC().Format(time.RFC3339Nano), revoked, sk.SHA256})
	m := hmac.New(sha256.New, s.recordKey)
	m.Write(in)
	return m.Sum(nil)
}

// write stores sk, signed, over whatever is at its path.
func (s *KeyStore) write(ctx context.Context, sk *storedKey) error {
	if s.recordKey == nil {
		return errNoRecordKey
	}
	sk.Unsigned = false
	sk.MAC = s.mac(*sk)
	data, err := json.Marshal(sk)
	if err != nil {
		return err
	}
	if err := s.bucket.WriteAll(ctx, s.keyPath(sk.ID), data, &blob.WriterOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("%w: write key: %v", ErrUnavailable, err)
	}
	return nil
}

// List returns every key, live and revoked, oldest first, unsigned records
// included and marked (Key.Unsigned). It never returns hashes or tokens.
func (s *KeyStore) List(ctx context.Context) ([]Key, error) {
	var keys []Key
	it := s.bucket.List(&blob.ListOptions{Prefix: s.prefix + "keys/"})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: list keys: %v", ErrUnavailable, err)
		}
		id, ok := strings.CutSuffix(strings.TrimPrefix(obj.Key, s.prefix+"keys/"), ".json")
		if !ok || obj.IsDir {
			continue
		}
		sk, err := s.read(ctx, id)
		if err != nil {
			return nil, err
		}
		if sk != nil {
			keys = append(keys, sk.Key)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].Created.Equal(keys[j].Created) {
			return keys[i].Created.Before(keys[j].Created)
		}
		return keys[i].ID < keys[j].ID
	})
	return keys, nil
}

// Revoke marks the key revoked and frees its name. Revoking a revoked key
// does nothing; an unknown ID is ErrKeyNotFound. An unsigned record is
// signed as revoked: it stays refused, now for good. Other processes stop
// accepting the key within their cache TTL.
func (s *KeyStore) Revoke(ctx context.Context, id string) error {
	sk, err := s.read(ctx, id)
	if err != nil {
		return err
	}
	if sk == nil {
		return fmt.Errorf("%w: %q", ErrKeyNotFound, id)
	}
	s.forget(id)
	if !sk.Live() {
		return nil
	}
	now := s.now().UTC()
	sk.Revoked = &now
	if err := s.write(ctx, sk); err != nil {
		return err
	}
	s.forget(id)
	// Free the name only if the claim is still this key's; a failure here is
	// harmless because Create treats claims of revoked keys as stale.
	path := s.namePath(sk.Name)
	if owner, err := s.bucket.ReadAll(ctx, path); err == nil && string(owner) == id {
		_ = s.bucket.Delete(ctx, path)
	}
	return nil
}

// Authenticate checks an API key token. Malformed tokens are refused
// before the bucket is read. The secret is compared by hash in constant
// time, and only then is revocation reported, so ErrRevoked tells nothing
// to someone without the secret.
func (s *KeyStore) Authenticate(ctx context.Context, token string) (Principal, error) {
	id, secret, ok := parseToken(token)
	if !ok {
		return Principal{}, invalid(errMalformedKey)
	}
	e, err := s.lookup(ctx, id)
	if err != nil {
		return Principal{}, err
	}
	if e.key == nil {
		return Principal{}, invalid(ErrKeyNotFound)
	}
	got := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(got[:], e.hash[:]) != 1 {
		return Principal{}, invalid(ErrBadSignature)
	}
	if e.key.Unsigned {
		return Principal{}, invalid(ErrUnsignedKey)
	}
	if !e.key.Live() {
		return Principal{}, ErrRevoked
	}
	return Principal{
		Name:   e.key.Name,
		IDs:    []string{KeyPrincipalID(e.key.ID)},
		Role:   e.key.Role,
		Method: MethodAPIKey,
	}, nil
}

// KeyPrincipalID is the principal ID of the API key id, "apikey:<id>":
// what an access list holds to admit that key, and no later key of the
// same name.
func KeyPrincipalID(id string) string { return "apikey:" + id }

// Migrate signs the record of key id with the store's record key, so that
// a key written before records were signed works again. It trusts the
// record as it is: only an operator who has checked it (its name, role and
// creation time are the ones they issued) may migrate it, since anyone with
// write access to the bucket could have planted it. Migrating a signed
// record does nothing; an unknown ID is ErrKeyNotFound.
func (s *KeyStore) Migrate(ctx context.Context, id string) (Key, error) {
	sk, err := s.read(ctx, id)
	if err != nil {
		return Key{}, err
	}
	if sk == nil {
		return Key{}, fmt.Errorf("%w: %q", ErrKeyNotFound, id)
	}
	if !sk.Unsigned {
		return sk.Key, nil
	}
	if _, err := ParseRole(string(sk.Role)); err != nil || ValidateName(sk.Name) != nil {
		return Key{}, fmt.Errorf("%w: key %s has an invalid name or role", ErrUnavailable, id)
	}
	if err := s.write(ctx, sk); err != nil {
		return Key{}, err
	}
	s.forget(id)
	return sk.Key, nil
}

// LiveByName returns the live, signed key named name (ignoring case), found
// through its name claim; ErrKeyNotFound if there is none. It is how an
// access list given by key name is turned into the key's ID.
func (s *KeyStore) LiveByName(ctx context.Context, name string) (Key, error) {
	if ValidateName(name) != nil {
		return Key{}, fmt.Errorf("%w: %q", ErrKeyNotFound, name)
	}
	owner, err := s.bucket.ReadAll(ctx, s.namePath(name))
	if gcerrors.Code(err) == gcerrors.NotFound {
		return Key{}, fmt.Errorf("%w: %q", ErrKeyNotFound, name)
	}
	if err != nil {
		return Key{}, fmt.Errorf("%w: read name: %v", ErrUnavailable, err)
	}
	sk, err := s.read(ctx, string(owner))
	if err != nil {
		return Key{}, err
	}
	if sk == nil || sk.Unsigned || !sk.Live() || !strings.EqualFold(sk.Name, name) {
		return Key{}, fmt.Errorf("%w: %q", ErrKeyNotFound, name)
	}
	return sk.Key, nil
}

var errMalformedKey = errors.New("malformed API key")

// parseToken splits "evk_<16 hex>_<52 base32>" without looking anything up.
func parseToken(token string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, TokenPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || !validID(id) || len(secret) != secretLen {
		return "", "", false
	}
	for i := 0; i < len(secret); i++ {
		c := secret[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return "", "", false
		}
	}
	return id, secret, true
}

func validID(id string) bool {
	if len(id) != 2*idBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// lookup returns the key for id, from the cache when fresh. Misses are
// cached too, so random IDs do not each cost a bucket read within a TTL.
func (s *KeyStore) lookup(ctx context.Context, id string) (cacheEntry, error) {
	now := s.now()
	if s.ttl > 0 {
		s.mu.Lock()
		e, ok := s.cache[id]
		s.mu.Unlock()
		if ok && now.Before(e.expires) {
			return e, nil
		}
	}
	sk, err := s.read(ctx, id)
	if err != nil {
		return cacheEntry{}, err
	}
	e := cacheEntry{expires: now.Add(s.ttl)}
	if sk != nil {
		h, err := hex.DecodeString(sk.SHA256)
		if err != nil || len(h) != sha256.Size {
			return cacheEntry{}, fmt.Errorf("%w: key %s is corrupt", ErrUnavailable, id)
		}
		copy(e.hash[:], h)
		k := sk.Key
		e.key = &k
	}
	if s.ttl > 0 {
		s.mu.Lock()
		if len(s.cache) >= maxCache {
			for k, old := range s.cache {
				if !now.Before(old.expires) {
					delete(s.cache, k)
				}
			}
			if len(s.cache) >= maxCache {
				s.cache = map[string]cacheEntry{}
			}
		}
		s.cache[id] = e
		s.mu.Unlock()
	}
	return e, nil
}

func (s *KeyStore) forget(id string) {
	s.mu.Lock()
	delete(s.cache, id)
	s.mu.Unlock()
}
