package delivery

import (
	"fmt"
	"strconv"
	"time"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// PrunedError: --id names a broadcast that finished and whose journal was
// removed (history.keep, `history prune`). Which recipients it reached is no
// longer known, so running it again would send to everyone a second time.
type PrunedError struct {
	ID         string
	FinishedAt time.Time
}

func (e *PrunedError) Error() string {
	return fmt.Sprintf("broadcast %s finished on %s and its journal has since been pruned", e.ID, e.FinishedAt.Local().Format("2006-01-02"))
}

// notPruned refuses a named broadcast that was pruned.
func notPruned(st *store.Store, id string) error {
	t, ok, err := st.Pruned(id)
	if err != nil || !ok {
		return err
	}
	return &PrunedError{ID: id, FinishedAt: t.FinishedAt}
}

// nextRun numbers fresh as the run after last (0: no run of it in the
// journal), and after every pruned run of the same base id: the run number
// is in the id and so in every random_id, and a number used before could
// make Telegram drop the new message as a repeat of the old one.
func nextRun(st *store.Store, fresh store.Broadcast, last int) (store.Broadcast, error) {
	pruned, err := st.PrunedRuns(fresh.BaseID)
	if err != nil {
		return fresh, err
	}
	fresh.Run = max(last, pruned) + 1
	fresh.ID = fresh.BaseID
	if fresh.Run > 1 {
		fresh.ID += "-" + strconv.Itoa(fresh.Run)
	}
	return fresh, nil
}
