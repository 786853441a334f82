package delivery

// chats.go is what delivery knows about groups and channels. A broadcast's
// journal entry and random_ids are per peer, so one broadcast goes to one
// place in each chat: the chat itself or one of its forum topics.

import (
	"fmt"

	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// PlaceConflictError: two recipients, written differently (@club/2 and
// t.me/c/123/3), turned out to be two places in one chat. The first is sent
// to; this one fails instead of being dropped as a duplicate, because it
// asked for somewhere else.
type PlaceConflictError struct {
	// Other is the recipient that goes to the chat, as written.
	Other string
}

func (e *PlaceConflictError) Error() string {
	return fmt.Sprintf("the same chat as %s, elsewhere in it: a broadcast goes to one place per chat; send to this one in a second broadcast", e.Other)
}

// duplicate is why target idx, resolved to p, is not sent: a repeat of the
// recipient that claimed p (fanout.ErrDuplicate: one send, one line), or
// another topic of the same chat (*PlaceConflictError).
func (s *sender) duplicate(idx int, p store.Peer) error {
	s.mu.Lock()
	owner := s.claims[p.ID]
	s.mu.Unlock()
	if s.recipientAt(owner).Topic != s.recipientAt(idx).Topic {
		// Journaled by its own name, not under the chat's entry, which
		// is the other recipient's.
		s.setPeer(idx, 0)
		return &PlaceConflictError{Other: s.targets[owner].Recipient}
	}
	s.setPeer(idx, 0) // dropped: no result will take it
	return fanout.ErrDuplicate
}
