package api

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/klauspost/compress/gzip"
	"github.com/labstack/echo/v4"

	"github.com/entravault/entravault/internal/repository"
)

// ExportCountHeader carries the number of objects an export will hold, so
// a client can show progress on a stream of unknown length.
const ExportCountHeader = "Entravault-Object-Count"

// export streams a snapshot as a tar.gz of <type>/<id>.json. Files hold
// the stored JSON with sorted keys, two-space indentation and a final
// newline, and every tar header is fixed (mode 0644, the snapshot's time),
// so two exports of one snapshot are byte-identical and exports of
// consecutive snapshots diff cleanly in git.
func (s *snapshotService) export(c echo.Context, connectorID string) error {
	ctx := c.Request().Context()
	info, err := s.snapshot(ctx, connectorID, c.Param("sid"))
	if err != nil {
		return err
	}
	typ, err := objectType(c)
	if err != nil {
		return err
	}
	total := 0
	for t, n := range info.Counts {
		if typ == "" || t == typ {
			total += n
		}
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/gzip")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-%s.tar.gz"`, connectorID, info.ID.Short()))
	h.Set(ExportCountHeader, strconv.Itoa(total))
	c.Response().WriteHeader(http.StatusOK)

	err = writeExport(ctx, &progressWriter{w: c.Response(), rc: http.NewResponseController(c.Response().Writer)}, s.repo, info, typ)
	if err != nil {
		// The status is sent; the missing gzip trailer tells the client
		// the archive is incomplete.
		s.log.Error("snapshot export failed", "connector", connectorID, "snapshot", info.ID.Short(), "error", err)
	}
	return err
}

// progressWriter extends the server's write deadline while a stream
// makes progress: a large export keeps going, a client that stops reading
// is cut off after a minute like any other.
type progressWriter struct {
	w        io.Writer
	rc       *http.ResponseController
	extended time.Time
}

// streamWriteWindow is how long one write may block.
const streamWriteWindow = time.Minute

func (p *progressWriter) Write(b []byte) (int, error) {
	if now := time.Now(); now.Sub(p.extended) > time.Second {
		_ = p.rc.SetWriteDeadline(now.Add(streamWriteWindow)) // unsupported writers (tests) just keep theirs
		p.extended = now
	}
	return p.w.Write(b)
}

// exportBatch objects are read at a time in storage order, then written
// in type/id order: about 32 MiB of JSON held for a 100k-user tenant.
const exportBatch = 16384

// writeExport writes the archive to w.
func writeExport(ctx context.Context, w io.Writer, repo *repository.Repository, info repository.SnapshotInfo, typ string) error {
	zw, _ := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	tw := tar.NewWriter(zw)
	mtime := info.Time.UTC().Truncate(time.Second)
	var buf bytes.Buffer
	err := repo.WalkBatched(ctx, info.ID, typ, exportBatch, func(t, id string, raw []byte) error {
		buf.Reset()
		if err := StableJSON(&buf, raw); err != nil {
			return fmt.Errorf("%s %s: %w", t, id, err)
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: ExportPath(t, id), Mode: 0o644, Size: int64(buf.Len()), ModTime: mtime}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(buf.Bytes())
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// ExportPath is an object's file name in an export: the id is
// path-escaped, so any id gives one file under its type's folder, and ':'
// too (activity-log keys start with a time), which Windows refuses in
// file names.
func ExportPath(objType, id string) string {
	return objType + "/" + strings.ReplaceAll(url.PathEscape(id), ":", "%3A") + ".json"
}

// StableJSON writes raw with object members sorted (RFC 8785 order),
// two-space indentation, ": " after names and a final newline. Strings and
// numbers keep their stored spelling, so nothing is lost or rounded.
// jsontext reformats without decoding into Go values: 10x faster than an
// encoding/json round trip on user objects.
func StableJSON(w *bytes.Buffer, raw []byte) error {
	v := jsontext.Value(append(w.AvailableBuffer(), raw...))
	if err := v.Indent(jsontext.ReorderRawObjects(true), jsontext.WithIndent("  "), jsontext.SpaceAfterColon(true)); err != nil {
		return err
	}
	w.Write(v)
	return w.WriteByte('\n')
}
