package delivery_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/delivery"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// A pruned broadcast's id, and so its random_ids, is never given to another:
// the same message to the same people a year later is run 2, and a named
// broadcast whose journal is gone is refused rather than sent again.
func TestPrunedBroadcastsKeepTheirIDs(t *testing.T) {
	now := time.Date(2026, 1, 1, 6, 30, 0, 0, time.UTC)
	st, err := store.Open(filepath.Join(t.TempDir(), "state"), store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{Now: now})
	named := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{Now: now, ID: "new-year"})
	for _, id := range []string{first.Broadcast.ID, named.Broadcast.ID} {
		if err := st.SetState(id, store.StateFinished); err != nil {
			t.Fatal(err)
		}
	}
	now = now.AddDate(1, 0, 0)
	if res, err := st.Prune(store.PruneOptions{Before: now.AddDate(0, 0, -90)}); err != nil || len(res.Removed) != 2 {
		t.Fatalf("prune: %+v, %v", res, err)
	}

	again := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{Now: now})
	if again.Broadcast.ID == first.Broadcast.ID || again.Broadcast.Run != 2 || again.Resumed {
		t.Errorf("a year later: id %s run %d (resumed %v); the pruned one was %s", again.Broadcast.ID, again.Broadcast.Run, again.Resumed, first.Broadcast.ID)
	}
	if delivery.RandomID(again.Broadcast.ID, 1, 0) == delivery.RandomID(first.Broadcast.ID, 1, 0) {
		t.Error("same random_id as the pruned broadcast")
	}

	_, err = delivery.Begin(st, account, baseSpec(), baseKeys, delivery.BeginOptions{Now: now, ID: "new-year"})
	var pe *delivery.PrunedError
	if !errors.As(err, &pe) || pe.ID != "new-year" {
		t.Errorf("named pruned broadcast: %v, want a PrunedError", err)
	}
}
