package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/entravault/entravault/internal/config"
	"github.com/entravault/entravault/internal/repository"
	_ "github.com/entravault/entravault/internal/repository/drivers" // cloud buckets and keepers
)

const repoUsage = `usage: entravault repo <init|stats|verify|prune|snapshots|rebuild-index|unlock> [flags]

  init                         create a repository (with --data: key file and bucket under DIR)
  stats [--json]               sizes and counts
  snapshots [--connector C] [--scope S] [--json]
                               list snapshots, oldest first
  verify [--read-data N%]      check structure; download and re-hash N% of packs (default 0)
  prune [--dry-run] [--keep-last N] [--keep-within-days N] [--keep-daily N]
        [--keep-weekly N] [--keep-monthly N] [--keep-yearly N] [--connector C] [--scope S]
                               forget snapshots by policy, then delete unused data;
                               the newest snapshot of each scope is always kept
  rebuild-index                recreate lost or damaged index files from pack headers
  unlock [--all]               remove locks whose holder no longer runs (stale, or a
                               process of this machine that exited); --all removes
                               every lock: only when no api or worker is running

Repository flags (every subcommand; also ENTRAVAULT_BLOB_URL, ENTRAVAULT_SECRETS_URL, ENTRAVAULT_DATA):
  --data DIR          dev stack folder: bucket DIR/blobs, key DIR/repo.key (default .data)
  --blob-url URL      bucket instead (file://, azblob://, s3://, gs://); needs --secrets-url
  --secrets-url URL   key keeper (base64key://, azurekeyvault://, awskms://, gcpkms://)
`

// cmdRepo administers the snapshot repository directly on its bucket.
func cmdRepo(ctx context.Context, args []string) error {
	return runRepo(ctx, args, os.Stdout, os.Stderr)
}

// repoCmd is one repo subcommand's flags and output.
type repoCmd struct {
	stdout, stderr         io.Writer
	data, blobURL, secrets string
	asJSON, dryRun, all    bool
	readData               string
	connector, scope       string
	policy                 repository.RetentionPolicy
}

// repoCommands are the subcommands that work on an open repository (init
// creates one).
var repoCommands = map[string]func(*repoCmd, context.Context, *repository.Repository) error{
	"stats": (*repoCmd).stats, "snapshots": (*repoCmd).snapshots, "verify": (*repoCmd).verify,
	"prune": (*repoCmd).prune, "rebuild-index": (*repoCmd).rebuildIndex, "unlock": (*repoCmd).unlock,
}

func runRepo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if askedForHelp(args, repoUsage, stderr) {
		return flag.ErrHelp
	}
	sub := args[0]
	run, known := repoCommands[sub]
	if !known && sub != "init" {
		fmt.Fprint(stderr, repoUsage)
		return fmt.Errorf("unknown subcommand %q", sub)
	}
	c := &repoCmd{stdout: stdout, stderr: stderr}
	if err := c.parse(sub, args[1:]); err != nil {
		return err
	}
	cfg, err := c.config(sub == "init")
	if err != nil {
		return err
	}
	if sub == "init" {
		return c.init(ctx, cfg)
	}
	r, err := repository.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	return run(c, ctx, r)
}

func (c *repoCmd) parse(sub string, args []string) error {
	fs := flag.NewFlagSet("repo "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprint(c.stderr, repoUsage) }
	fs.StringVar(&c.data, "data", ".data", "dev stack folder")
	fs.StringVar(&c.blobURL, "blob-url", "", "bucket URL; overrides --data")
	fs.StringVar(&c.secrets, "secrets-url", "", "key keeper URL (with --blob-url)")
	fs.BoolVar(&c.asJSON, "json", false, "print JSON")
	fs.StringVar(&c.readData, "read-data", "0%", "share of packs to download and re-hash, e.g. 10%")
	fs.BoolVar(&c.dryRun, "dry-run", false, "report what prune would delete without deleting")
	fs.BoolVar(&c.all, "all", false, "unlock: remove every lock, held or not")
	fs.StringVar(&c.connector, "connector", "", "only this connector")
	fs.StringVar(&c.scope, "scope", "", "only this scope")
	pol := &c.policy
	fs.IntVar(&pol.KeepLast, "keep-last", 0, "keep the N newest snapshots")
	fs.IntVar(&pol.KeepWithinDays, "keep-within-days", 0, "keep all snapshots within N days of the newest")
	fs.IntVar(&pol.KeepDaily, "keep-daily", 0, "keep the newest snapshot of each of the last N days")
	fs.IntVar(&pol.KeepWeekly, "keep-weekly", 0, "… of each of the last N ISO weeks")
	fs.IntVar(&pol.KeepMonthly, "keep-monthly", 0, "… of each of the last N months")
	fs.IntVar(&pol.KeepYearly, "keep-yearly", 0, "… of each of the last N years")
	if err := config.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return nil
}

// config is the repository's location: the dev stack's folder, or a bucket
// and its key keeper. For init, a local key file is created.
func (c *repoCmd) config(creating bool) (repository.Config, error) {
	switch {
	case c.blobURL != "" && c.secrets == "":
		return repository.Config{}, errors.New("--blob-url needs --secrets-url")
	case c.blobURL != "":
		return repository.Config{BlobURL: c.blobURL, SecretsURL: c.secrets}, nil
	case creating:
		return repository.LocalURLs(c.data)
	}
	return repository.LocalConfig(c.data)
}

func (c *repoCmd) init(ctx context.Context, cfg repository.Config) error {
	r, err := repository.Init(ctx, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	fmt.Fprintf(c.stdout, "created repository %s\n", r.ID())
	if c.blobURL == "" {
		fmt.Fprintf(c.stderr, "key file: %s/repo.key (back it up: without it nothing is readable)\n", c.data)
	}
	return nil
}

// out prints v as JSON with --json, else as text's table.
func (c *repoCmd) out(v any, text func(w *tabwriter.Writer)) error {
	if c.asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	text(tw)
	return tw.Flush()
}

func (c *repoCmd) rebuildIndex(ctx context.Context, r *repository.Repository) error {
	rep, err := r.RebuildIndex(ctx)
	if err != nil {
		return err
	}
	if err := c.out(rep, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "packs indexed\t%d\n", rep.Packs)
		fmt.Fprintf(w, "old index files removed\t%d\n", rep.IndexRemoved)
		for _, p := range rep.Unreadable {
			fmt.Fprintf(w, "UNREADABLE PACK\t%s\n", p)
		}
	}); err != nil {
		return err
	}
	if len(rep.Unreadable) > 0 {
		return fmt.Errorf("%w: %d packs have unreadable headers", repository.ErrCorrupt, len(rep.Unreadable))
	}
	return nil
}

func (c *repoCmd) stats(ctx context.Context, r *repository.Repository) error {
	st, err := r.Stats(ctx)
	if err != nil {
		return err
	}
	return c.out(st, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "snapshots\t%d\n", st.Snapshots)
		fmt.Fprintf(w, "packs\t%d (%s)\n", st.Packs, humanBytes(st.PackBytes))
		fmt.Fprintf(w, "index files\t%d\n", st.IndexFiles)
		fmt.Fprintf(w, "objects\t%d distinct (%d tree blobs)\n", st.ObjectBlobs, st.TreeBlobs)
		fmt.Fprintf(w, "uncompressed\t%s\n", humanBytes(st.RawBytes))
		if st.PackBytes > 0 {
			fmt.Fprintf(w, "ratio\t%.1fx\n", float64(st.RawBytes)/float64(st.PackBytes))
		}
	})
}

func (c *repoCmd) snapshots(ctx context.Context, r *repository.Repository) error {
	snaps, err := r.Snapshots(ctx, repository.Filter{Connector: c.connector, Scope: c.scope})
	if err != nil {
		return err
	}
	return c.out(snaps, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tTIME\tCONNECTOR\tSCOPE\tOBJECTS\tSIZE")
		for _, s := range snaps {
			n := 0
			for _, k := range s.Counts {
				n += k
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", s.ID.Short(), s.Time.Format(time.RFC3339), s.Connector, s.Scope, n, humanBytes(s.Bytes))
		}
	})
}

func (c *repoCmd) verify(ctx context.Context, r *repository.Repository) error {
	pct, err := parsePercent(c.readData)
	if err != nil {
		return err
	}
	rep, err := r.Verify(ctx, repository.VerifyOptions{ReadDataPercent: pct})
	if err != nil {
		return err
	}
	if err := c.out(rep, func(w *tabwriter.Writer) { printVerify(w, rep) }); err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("%w: verify found %d problems", repository.ErrCorrupt, len(rep.Problems))
	}
	return nil
}

func printVerify(w *tabwriter.Writer, rep repository.VerifyReport) {
	fmt.Fprintf(w, "snapshots\t%d\n", rep.Snapshots)
	fmt.Fprintf(w, "index files\t%d\n", rep.IndexFiles)
	fmt.Fprintf(w, "objects referenced\t%d\n", rep.ObjectsChecked)
	fmt.Fprintf(w, "packs read\t%d of %d (%s)\n", rep.PacksRead, rep.Packs, humanBytes(rep.BytesRead))
	fmt.Fprintf(w, "blobs re-hashed\t%d\n", rep.BlobsRehashed)
	badIndex, badManifest := 0, 0
	for _, p := range rep.Problems {
		switch p.Kind {
		case repository.CorruptIndex:
			badIndex++
		case repository.CorruptManifest:
			badManifest++
		}
	}
	if len(rep.UnreferencedPacks) > 0 {
		if badIndex > 0 {
			fmt.Fprintf(w, "unreferenced packs\t%d (possibly listed by a bad index file)\n", len(rep.UnreferencedPacks))
		} else {
			fmt.Fprintf(w, "unreferenced packs\t%d (removed by prune)\n", len(rep.UnreferencedPacks))
		}
	}
	// Index files and manifests are bound to their names: a bad one is
	// damaged or was copied over another's name in the bucket.
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "PROBLEM\t%s\n", p)
	}
	if badIndex > 0 {
		fmt.Fprintf(w, "HINT\t%d index files do not open under their names: prune refuses to run; `entravault repo rebuild-index` re-indexes the packs from their headers\n", badIndex)
	}
	if badManifest > 0 {
		fmt.Fprintf(w, "HINT\t%d manifests do not open under their names: listing snapshots and prune fail until their original versions are restored (bucket versioning) or they are removed from snapshots/\n", badManifest)
	}
}

func (c *repoCmd) unlock(ctx context.Context, r *repository.Repository) error {
	removed, err := r.Unlock(ctx, c.all)
	if err != nil {
		return err
	}
	return c.out(removed, func(w *tabwriter.Writer) {
		for _, l := range removed {
			fmt.Fprintf(w, "removed lock\t%s\t%s pid %d\t%s\t%s\n", l.Name, l.Host, l.PID, l.Time.Format(time.RFC3339), cmp.Or(l.Gone, "held"))
		}
		fmt.Fprintf(w, "locks removed\t%d\n", len(removed))
	})
}

func (c *repoCmd) prune(ctx context.Context, r *repository.Repository) error {
	if c.policy.Empty() && !c.dryRun {
		fmt.Fprintln(c.stderr, "no --keep-* policy: keeping every snapshot, removing only unreferenced data")
	}
	rep, err := r.Prune(ctx, repository.PruneOptions{Connector: c.connector, Scope: c.scope, Policy: c.policy, DryRun: c.dryRun})
	if err != nil {
		return err
	}
	return c.out(rep, func(w *tabwriter.Writer) {
		verb := "removed"
		if rep.DryRun {
			verb = "would remove"
		}
		for _, s := range rep.Forget {
			fmt.Fprintf(w, "%s snapshot\t%s\t%s\t%s/%s\n", verb, s.ID.Short(), s.Time.Format(time.RFC3339), s.Connector, s.Scope)
		}
		fmt.Fprintf(w, "snapshots kept\t%d\n", rep.Kept)
		fmt.Fprintf(w, "packs %s\t%d (%d unreferenced, %d repacked)\n", verb, rep.PacksDeleted, rep.UnreferencedPacks, rep.PacksRepacked)
		fmt.Fprintf(w, "space freed\t%s\n", humanBytes(rep.BytesFreed))
	})
}

func parsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("--read-data %q: want a percentage 0–100", s)
	}
	return v, nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
