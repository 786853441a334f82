package delivery_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/broadcast-cli/broadcast/internal/delivery"
	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// What a script reads on stdout must already be in the journal: a recipient
// reported sent is sent in the journal at the moment it is reported, though
// the workers no longer wait for the commit themselves.
func TestSentIsJournaledBeforeItIsReported(t *testing.T) {
	const n = 60
	var in []string
	peers := map[string]int64{}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("@friend%d", i)
		in = append(in, name)
		peers[name] = int64(100 + i)
	}
	rs := parseAll(t, in...)
	st, b := begin(t, rs)
	m := &fakeMessenger{peers: peers}
	var (
		reported int
		missing  []string
		waits    int
	)
	onResult := func(res fanout.Result) {
		reported++
		e, ok, err := st.Entry(b.ID, res.Receipt.PeerID)
		if err != nil || !ok || e.Status != store.EntrySent || e.MessageID != res.Receipt.MessageID {
			missing = append(missing, fmt.Sprintf("%s (%+v, %v, %v)", res.Target.Recipient, e, ok, err))
		}
	}
	sum, err := delivery.Run(context.Background(), st, m, b, rs, fanout.Options{Concurrency: 8, OnResult: onResult,
		OnWait: func(fanout.WaitEvent) { waits++ }})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sent != n || reported != n {
		t.Fatalf("sent %d, reported %d, want %d", sum.Sent, reported, n)
	}
	if len(missing) > 0 {
		t.Errorf("reported sent before the journal had it: %v", missing)
	}
	if waits != 0 {
		t.Errorf("%d flood waits reported with none answered", waits)
	}
}

// A journal that cannot be written stops the run: the recipient whose mark
// was lost is reported pending (a resume settles it with the same
// random_id), never sent, and Run returns the journal's error.
func TestJournalFailureStopsTheRun(t *testing.T) {
	rs := parseAll(t, "@alice", "@bobby", "@carol", "@dave1", "@erin1", "@frank")
	st, b := begin(t, rs)
	m := &fakeMessenger{peers: map[string]int64{"@alice": 1, "@bobby": 2, "@carol": 3, "@dave1": 4, "@erin1": 5, "@frank": 6}}
	// The journal goes away under the run: every later write fails.
	m.fail = func(peer int64, attempt int) error {
		if peer == 1 {
			st.Close()
		}
		return nil
	}
	var got results
	sum, err := delivery.Run(context.Background(), st, m, b, rs, fanout.Options{Concurrency: 1, OnResult: got.add})
	if err == nil {
		t.Fatal("Run succeeded with a closed journal")
	}
	for _, res := range got.list {
		if res.Status == fanout.StatusSent {
			t.Errorf("%s reported sent though its mark was never written", res.Target.Recipient)
		}
	}
	if sum.Sent != 0 {
		t.Errorf("summary counts %d sent: %+v", sum.Sent, sum)
	}
}
