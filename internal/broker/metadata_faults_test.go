package broker_test

import (
	"errors"

	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// A storage fault at metadata.db's write or sync during an admin operation
// fails that operation with an error and leaves nothing half-done: a
// topic delete whose metadata commit fails keeps the topic whole (its
// renamed directories come back, every acknowledged record is still
// served); a create whose commit fails leaves no directory; both work once
// the fault clears (issue #9: faults under the metadata store).
func TestMetadataCommitFaults(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EIO} {
		t.Run(errno.Error(), func(t *testing.T) {
			fs := vfs.NewErrorFS(nil)
			b := tandemtest.StartFS(t, fs)
			cl := client(t, b)
			adm := kadm.NewClient(cl)
			createTopic(t, cl, "keep", 2, nil)
			for i := range 10 {
				if err := produceOne(t, cl, "keep", int32(i%2), "v"); err != nil {
					t.Fatal(err)
				}
			}

			// Delete: the commit fails, the topic stays whole.
			// Until dropped: the rule matches the background backups'
			// metadata.db.bak too, which must not use it up.
			rule := fs.Inject(vfs.Rule{Ops: vfs.OpSync, Path: "metadata.db", Err: errno})
			resp, err := adm.DeleteTopics(ctxT(t), "keep")
			fired := fs.Fired(rule)
			fs.Drop(rule)
			if err == nil {
				err = resp["keep"].Err
			}
			if err == nil || fired == 0 {
				t.Fatalf("delete with a failing metadata commit: err %v, fault fired %d", err, fired)
			}
			// Every acknowledged record is still there and served.
			ends, err := adm.ListEndOffsets(ctxT(t), "keep")
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			ends.Each(func(o kadm.ListedOffset) {
				total += len(consumeAll(t, b, "keep", o.Partition, int(o.Offset)))
			})
			if total != 10 {
				t.Fatalf("after the failed delete %d records are served, want 10", total)
			}
			if err := produceOne(t, cl, "keep", 0, "after"); err != nil {
				t.Fatalf("produce after the failed delete: %v", err)
			}
			if leftovers := deleteDirs(t, b.Dir, "keep"); len(leftovers) != 0 {
				t.Fatalf("renamed directories left behind: %v", leftovers)
			}

			// Create: the commit fails, nothing is left; then it works.
			rule = fs.Inject(vfs.Rule{Ops: vfs.OpWrite, Path: "metadata.db", Err: errno})
			cr, err := adm.CreateTopic(ctxT(t), 3, 1, nil, "fresh")
			fired = fs.Fired(rule)
			fs.Drop(rule)
			if err == nil {
				err = cr.Err
			}
			if err == nil || fired == 0 {
				t.Fatalf("create with a failing metadata commit: err %v, fault fired %d", err, fired)
			}
			if dirs, _ := filepath.Glob(filepath.Join(b.Dir, "fresh-*")); len(dirs) != 0 {
				t.Fatalf("a failed create left %v", dirs)
			}
			createTopic(t, cl, "fresh", 3, nil)
			if err := produceOne(t, cl, "fresh", 2, "x"); err != nil {
				t.Fatal(err)
			}

			// The delete goes through once the fault has cleared.
			resp, err = adm.DeleteTopics(ctxT(t), "keep")
			if err == nil {
				err = resp["keep"].Err
			}
			if err != nil {
				t.Fatalf("delete after the fault cleared: %v", err)
			}
			if dirs, _ := filepath.Glob(filepath.Join(b.Dir, "keep-*")); len(dirs) != 0 {
				t.Fatalf("deleted topic left %v", dirs)
			}
		})
	}
}

// deleteDirs lists topic's partition directories renamed for deletion.
func deleteDirs(t *testing.T, dir, topic string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), topic+"-") && strings.HasSuffix(e.Name(), "-delete") {
			out = append(out, e.Name())
		}
	}
	return out
}
