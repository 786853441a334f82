package sandbox

// restore.go owns resuming a persistent sandbox: a previous run's accounts,
// logins and auth keys go back into the world (restore), and its inbox log
// is replayed into inboxes, message ids, the random_id dedupe and sent
// media, with the edits and deletions made since (replayInbox).

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gotd/td/crypto"
)

// restore puts a previous run's accounts and logins into a new world and
// returns the auth keys to hand to tgtest. Accounts that clash with this
// run's friends (fewer or more --users) are dropped with their logins.
func (w *world) restore(st *savedState) (map[[8]byte]crypto.Key, []string) {
	var notes []string
	if st.NextID > w.nextID {
		w.nextID = st.NextID
	}
	for _, a := range st.Accounts {
		u := a.User
		clash := w.users[u.ID] != nil
		if u.Phone != "" && w.byPhone[u.Phone] != nil {
			clash = true
		}
		if u.Username != "" && w.lookup(u.Username) != nil {
			clash = true
		}
		if clash || u.ID <= 0 {
			notes = append(notes, fmt.Sprintf("account %d dropped: it clashes with this run's friends", u.ID))
			continue
		}
		w.add(&u)
		if u.Bot && a.BotSecret != "" {
			w.bots[u.ID] = a.BotSecret
		}
	}
	keys := map[[8]byte]crypto.Key{}
	for _, sk := range st.AuthKeys {
		var k crypto.Key
		if len(sk.Key) != len(k) {
			notes = append(notes, fmt.Sprintf("auth key %s dropped: %d bytes, want %d", sk.ID, len(sk.Key), len(k)))
			continue
		}
		copy(k[:], sk.Key)
		id := k.ID()
		if sk.ID != "" && sk.ID != hex.EncodeToString(id[:]) {
			notes = append(notes, fmt.Sprintf("auth key %s dropped: its id does not match its value", sk.ID))
			continue
		}
		keys[id] = k
		if sk.DC != 0 {
			w.cl().keyDC[id] = sk.DC
		}
		if sk.UserID == 0 {
			continue
		}
		if w.users[sk.UserID] == nil {
			notes = append(notes, fmt.Sprintf("login of auth key %x dropped: account %d no longer exists", id, sk.UserID))
			continue
		}
		w.sessions[id] = sk.UserID
	}
	w.keys = keys
	return keys, notes
}

// replayInbox reads InboxFile back: inboxes, each sender's message ids, the
// random_id dedupe (albums under their first random_id, as sendMultiMedia
// records them) and the media sent, so a repeat or a send by reference after
// a restart behaves as before it; then the edits and deletions the event
// lines record, so inboxes read as they did and a deleted message stays
// deleted (its id not reused). n counts the messages delivered.
func (w *world) replayInbox(dir string) (n, bad int, err error) {
	f, err := os.Open(filepath.Join(dir, InboxFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	albums := map[albumKey]sentKey{}
	r := bufio.NewReader(f)
	for {
		line, rerr := r.ReadBytes('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return n, bad, rerr
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			// Every line shape decodes into this: a delivery leaves Event
			// empty, a deletion fills only the message's key and date.
			var l editedLine
			switch {
			case json.Unmarshal(line, &l) != nil || l.ID <= 0 || l.ToID == 0 || l.FromID == 0:
				bad++
			case l.Event == "":
				w.replay(l.Message, albums)
				n++
			case !w.replayEvent(l.Event, l.Message):
				bad++
			}
		}
		if rerr != nil {
			break
		}
	}
	return n, bad, nil
}

// albumKey names an album in the inbox: its sender, recipient and group.
type albumKey struct {
	from, to, group int64
}

func (w *world) replay(m Message, albums map[albumKey]sentKey) {
	w.inbox[m.ToID] = append(w.inbox[m.ToID], m)
	a := w.account(m.FromID)
	// A channel numbers its own messages (chats.go); everything else
	// takes the sender's ids.
	if !w.replayChat(m) {
		if m.ID > a.msgSeq {
			a.msgSeq = m.ID
		}
		a.pts++
		a.out[m.ID] = &outMsg{to: m.ToID, date: m.Date}
	}
	key := sentKey{peer: m.ToID, randomID: m.RandomID}
	rec := a.sent[key]
	rec.ids = append(rec.ids, m.ID)
	a.sent[key] = rec
	if m.GroupedID != 0 {
		ak := albumKey{m.FromID, m.ToID, m.GroupedID}
		if first, ok := albums[ak]; !ok {
			albums[ak] = key
		} else if first != key {
			r := a.sent[first]
			r.ids = append(r.ids, m.ID)
			a.sent[first] = r
		}
		if m.GroupedID > w.nextID {
			w.nextID = m.GroupedID
		}
	}
	if md := m.Media; md != nil && md.ID > 0 && (md.Kind == "photo" || md.Kind == "document") {
		if w.files[md.ID] == nil {
			w.files[md.ID] = &storedFile{kind: md.Kind, id: md.ID, hash: accessHash(md.ID), name: md.Name, mime: md.MimeType, size: md.Size, owner: m.FromID}
		}
		if md.ID > w.nextID {
			w.nextID = md.ID
		}
	}
}

// replayEvent applies an event line (see eventEdited) as the method that
// wrote it did; false for an unknown event or one about a message the log
// never delivered (its line lost to a crash).
func (w *world) replayEvent(event string, m Message) bool {
	if handled, ok := w.replayChatEvent(event, m); handled {
		return ok
	}
	a := w.account(m.FromID)
	if m.ID > a.msgSeq {
		a.msgSeq = m.ID // never reuse it, whatever happened to its delivery line
	}
	om := a.out[m.ID]
	if om == nil || om.to != m.ToID {
		return false
	}
	switch event {
	case eventEdited:
		old := w.find(m.ToID, m.FromID, m.ID)
		if old == nil {
			return false
		}
		*old = m
	case eventDeleted:
		w.removeFromInbox(m.ToID, m.FromID, m.ID)
		om.deleted = m.Date
	case eventDeletedForSender:
		om.hidden = true
	default:
		return false
	}
	a.pts++
	return true
}
