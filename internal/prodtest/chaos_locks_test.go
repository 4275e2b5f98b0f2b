package prodtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
)

// heldLock is a repository lock file (locks/<name>, plain JSON).
type heldLock struct {
	Name      string `json:"-"`
	Exclusive bool   `json:"exclusive"`
	Host      string `json:"host"`
	PID       int    `json:"pid"`
}

// removeDeadLocks deletes the lock files of processes of this host that
// no longer exist, as an operator does after a crash (`restic unlock`):
// a SIGKILLed worker's shared lock stays in the bucket, and prune refuses
// to run until it is 30 minutes old. Locks of live processes, or of other
// hosts, are left alone. It returns the locks removed.
func removeDeadLocks(t *testing.T, ctx context.Context, blobURL string) []heldLock {
	t.Helper()
	u, err := url.Parse(blobURL)
	if err != nil {
		t.Fatal(err)
	}
	container, domain := u.Host, u.Query().Get("domain")
	cred, err := azblob.NewSharedKeyCredential(azuriteAccount, azuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := azblob.NewClientWithSharedKeyCredential(fmt.Sprintf("http://%s/%s", domain, azuriteAccount), cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	prefix := "locks/"
	var removed []heldLock
	pager := c.NewListBlobsFlatPager(container, &azblob.ListBlobsFlatOptions{Prefix: &prefix})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list locks: %v", err)
		}
		for _, b := range page.Segment.BlobItems {
			name := *b.Name
			resp, err := c.DownloadStream(ctx, container, name, nil)
			if err != nil {
				t.Fatalf("read %s: %v", name, err)
			}
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			var l heldLock
			if err := json.Unmarshal(raw, &l); err != nil {
				t.Fatalf("%s: %v: %s", name, err, raw)
			}
			l.Name = strings.TrimPrefix(name, prefix)
			if l.Host != host || l.PID <= 0 || !errors.Is(syscall.Kill(l.PID, 0), syscall.ESRCH) {
				continue
			}
			if _, err := c.DeleteBlob(ctx, container, name, nil); err != nil {
				t.Fatalf("delete %s: %v", name, err)
			}
			removed = append(removed, l)
		}
	}
	return removed
}
