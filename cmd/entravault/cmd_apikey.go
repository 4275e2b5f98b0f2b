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
)

const apikeyUsage = `usage: entravault apikey <create|list|revoke> [flags]

  create --name NAME --role admin|operator|viewer   make a key; prints its token once
  list [--json]                                     show keys (never their tokens)
  revoke ID                                         stop a key from working

Storage flags (every subcommand):
  --data DIR      dev stack folder; keys live in its bucket file://DIR/blobs (default .data)
  --blob-url URL  the API's bucket instead (file://, s3://, azblob://, gs://)
`

// cmdAPIKey manages API keys directly in the bucket the API reads them
// from, so it needs storage access, not an API token: the first admin key is
// made this way.
func cmdAPIKey(ctx context.Context, args []string) error {
	return runAPIKey(ctx, args, os.Stdout, os.Stderr)
}

// runAPIKey writes results to stdout (for create, the token alone, so that
// TOKEN=$(entravault apikey create ...) works) and notes to stderr.
func runAPIKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, apikeyUsage)
		return flag.ErrHelp
	}
	sub := args[0]
	fs := flag.NewFlagSet("apikey "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, apikeyUsage) }
	data := fs.String("data", ".data", "dev stack folder; the bucket is file://DIR/blobs")
	blobURL := fs.String("blob-url", "", "bucket URL (file://, s3://, azblob://, gs://); overrides --data")
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
	case "revoke":
	default:
		fmt.Fprint(stderr, apikeyUsage)
		return fmt.Errorf("unknown subcommand %q", sub)
	}
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}

	bucket, err := openKeyBucket(ctx, *data, *blobURL)
	if err != nil {
		return err
	}
	defer bucket.Close()
	store := auth.NewKeyStore(bucket)

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
		for _, k := range keys {
			status := "live"
			if !k.Live() {
				status = "revoked " + k.Revoked.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, k.Created.Format(time.RFC3339), status)
		}
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
	for _, name := range []string{"data", "blob-url"} {
		if v, ok := os.LookupEnv(config.EnvName(name)); ok && !given[name] {
			if err := fs.Set(name, v); err != nil {
				return nil, fmt.Errorf("%s: %w", config.EnvName(name), err)
			}
		}
	}
	return pos, nil
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
