package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/config"
	"github.com/entravault/entravault/internal/repository"
)

const apikeyUsage = `usage: entravault apikey <create|list|revoke|migrate> [flags]

  create --name NAME --role admin|operator|viewer   make a key; prints its token once
  list [--json]                                     show keys (never their tokens)
  revoke ID                                         stop a key from working
  migrate [ID...]                                   list unsigned key records; sign the
                                                    ones given, after checking you issued them

Storage flags (every subcommand; also ENTRAVAULT_DATA, ENTRAVAULT_BLOB_URL, ENTRAVAULT_SECRETS_URL):
  --data DIR          dev stack folder: bucket DIR/blobs, repository key DIR/repo.key (default .data)
  --blob-url URL      the API's bucket instead (file://, s3://, azblob://, gs://); needs --secrets-url
  --secrets-url URL   the repository's key keeper (base64key://, azurekeyvault://, awskms://, gcpkms://)

Key records are signed with a key derived from the snapshot repository's
data key, so this command needs the keeper as well as the bucket. Records
written by versions that did not sign them are refused by the API until
migrate signs them: anyone who could write the bucket could have planted
one, so sign only the IDs you recognise and revoke the rest.
`

// cmdAPIKey manages API keys directly in the bucket the API reads them
// from, so it needs storage access, not an API token: the first admin key is
// made this way. It also needs the repository's keeper: records are MACed
// with a key derived from the repository (auth.RecordKeyPurpose), which
// write access to the bucket alone does not give.
func cmdAPIKey(ctx context.Context, args []string) error {
	return runAPIKey(ctx, args, os.Stdout, os.Stderr)
}

// runAPIKey writes results to stdout (for create, the token alone, so that
// TOKEN=$(entravault apikey create ...) works) and notes to stderr.
func runAPIKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if askedForHelp(args, apikeyUsage, stderr) {
		return flag.ErrHelp
	}
	sub := args[0]
	fs := flag.NewFlagSet("apikey "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, apikeyUsage) }
	data := fs.String("data", ".data", "dev stack folder; the bucket is file://DIR/blobs")
	blobURL := fs.String("blob-url", "", "bucket URL (file://, s3://, azblob://, gs://); overrides --data")
	secretsURL := fs.String("secrets-url", "", "the repository's key keeper URL (with --blob-url)")
	var (
		name, role string
		asJSON     bool
	)
	switch sub {
	case "create":
		fs.StringVar(&name, "name", "", "key name: letters, digits and . _ - @, unique among live keys")
		fs.StringVar(&role, "role", "", "admin, operator or viewer")
	case "list":
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	case "revoke", "migrate":
	default:
		fmt.Fprint(stderr, apikeyUsage)
		return fmt.Errorf("unknown subcommand %q", sub)
	}
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}

	recordKey, err := deriveRecordKey(ctx, *data, *blobURL, *secretsURL)
	if err != nil {
		return err
	}
	bucket, err := openKeyBucket(ctx, *data, *blobURL)
	if err != nil {
		return err
	}
	defer bucket.Close()
	store := auth.NewKeyStore(bucket, auth.WithRecordKey(recordKey))

	switch sub {
	case "create":
		if len(pos) != 0 {
			return fmt.Errorf("create takes no arguments, got %q", pos)
		}
		if name == "" || role == "" {
			return errors.New("create needs --name and --role")
		}
		r, err := auth.ParseRole(role)
		if err != nil {
			return err
		}
		token, key, err := store.Create(ctx, name, r)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Created API key %s (%s, %s). Store the token now: it cannot be shown again.\n", key.ID, key.Name, key.Role)
		fmt.Fprintln(stdout, token)
		return nil

	case "list":
		if len(pos) != 0 {
			return fmt.Errorf("list takes no arguments, got %q", pos)
		}
		keys, err := store.List(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			if keys == nil {
				keys = []auth.Key{}
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(keys)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tSTATUS")
		unsigned := 0
		for _, k := range keys {
			status := "live"
			if !k.Live() {
				status = "revoked " + k.Revoked.Format(time.RFC3339)
			}
			if k.Unsigned {
				status = "UNSIGNED, refused (" + status + ")"
				unsigned++
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, k.Created.Format(time.RFC3339), status)
		}
		if unsigned > 0 {
			fmt.Fprintf(stderr, "%d key records are not signed and are refused: see `entravault apikey migrate`.\n", unsigned)
		}
		return tw.Flush()

	case "migrate":
		if len(pos) > 0 {
			for _, id := range pos {
				k, err := store.Migrate(ctx, id)
				if err != nil {
					return err
				}
				fmt.Fprintf(stderr, "Signed API key %s (%s, %s).\n", k.ID, k.Name, k.Role)
			}
			return nil
		}
		keys, err := store.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tSTATUS")
		n := 0
		for _, k := range keys {
			if k.Unsigned && k.Live() {
				n++
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\tunsigned\n", k.ID, k.Name, k.Role, k.Created.Format(time.RFC3339))
			}
		}
		if n == 0 {
			fmt.Fprintln(stderr, "Every live API key record is signed; nothing to migrate.")
			return nil
		}
		fmt.Fprintf(stderr, "%d live key records are unsigned and refused. Sign those you issued with\n"+
			"`entravault apikey migrate ID...`; revoke any you do not recognise: it may have been planted.\n", n)
		return tw.Flush()

	default: // revoke
		if len(pos) != 1 {
			return errors.New("usage: entravault apikey revoke ID")
		}
		if err := store.Revoke(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Revoked API key %s; running APIs refuse it within %s.\n", pos[0], auth.DefaultCacheTTL)
		return nil
	}
}

// parseInterspersed parses flags before and after positional arguments
// ("revoke ID --data DIR"), which the flag package alone stops at. Only the
// storage flags fall back to ENTRAVAULT_DATA and ENTRAVAULT_BLOB_URL, shared
// with the other commands; a stray ENTRAVAULT_NAME or _ROLE must not name or
// empower a key.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, name := range []string{"data", "blob-url", "secrets-url"} {
		if v, ok := os.LookupEnv(config.EnvName(name)); ok && !given[name] {
			if err := fs.Set(name, v); err != nil {
				return nil, fmt.Errorf("%s: %w", config.EnvName(name), err)
			}
		}
	}
	return pos, nil
}

// deriveRecordKey opens the snapshot repository (--blob-url with
// --secrets-url, else the dev stack's in --data) just to derive the key
// that signs key records.
func deriveRecordKey(ctx context.Context, data, blobURL, secretsURL string) ([]byte, error) {
	var cfg repository.Config
	if blobURL != "" {
		if secretsURL == "" {
			return nil, errors.New("--blob-url needs --secrets-url: key records are signed with a key derived from the repository's")
		}
		cfg = repository.Config{BlobURL: blobURL, SecretsURL: secretsURL}
	} else {
		if fi, err := os.Stat(data); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("--data %s is not a folder: run `entravault dev` there first, or give --blob-url", data)
		}
		var err error
		if cfg, err = repository.LocalConfig(data); err != nil {
			return nil, fmt.Errorf("--data %s: %w: run `entravault dev` there first, or give --blob-url and --secrets-url", data, err)
		}
	}
	r, err := repository.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("snapshot repository: %w", err)
	}
	defer r.Close()
	return r.DeriveKey(auth.RecordKeyPurpose), nil
}

// openKeyBucket opens --blob-url if given, else the dev stack's bucket in
// --data, which must exist: a typo should not start a new, empty key store.
func openKeyBucket(ctx context.Context, data, blobURL string) (*blob.Bucket, error) {
	if blobURL != "" {
		b, err := blob.OpenBucket(ctx, blobURL)
		if err != nil {
			return nil, fmt.Errorf("open --blob-url: %w", err)
		}
		return b, nil
	}
	if fi, err := os.Stat(data); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("--data %s is not a folder: run `entravault dev` there first, or give --blob-url", data)
	}
	return fileblob.OpenBucket(filepath.Join(data, "blobs"), &fileblob.Options{CreateDir: true, NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
}
