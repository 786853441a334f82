package sandbox

// world.go owns the state the methods act on: users (friends, phone
// accounts, bots), logins, per-account send state (message ids, random_id
// records, the send-rate bucket) and the inboxes messages are delivered to.

import (
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/gotd/td/crypto"
)

// User is a sandbox Telegram user.
type User struct {
	ID         int64  `json:"id"`
	AccessHash int64  `json:"access_hash"`
	Username   string `json:"username,omitempty"`
	FirstName  string `json:"first_name"`
	LastName   string `json:"last_name,omitempty"`
	Phone      string `json:"phone,omitempty"`
	Bot        bool   `json:"bot,omitempty"`
}

// Message is one delivered message as its recipient's inbox holds it.
type Message struct {
	ID           int        `json:"id"`
	FromID       int64      `json:"from_id"`
	ToID         int64      `json:"to_id"`
	To           string     `json:"to"`
	Text         string     `json:"text"`
	Entities     []Entity   `json:"entities,omitempty"`
	Media        *Media     `json:"media,omitempty"`
	RandomID     int64      `json:"random_id"`
	Date         time.Time  `json:"date"`
	Silent       bool       `json:"silent,omitempty"`
	NoPreview    bool       `json:"no_preview,omitempty"`
	ScheduleDate *time.Time `json:"schedule_date,omitempty"`
	GroupedID    int64      `json:"grouped_id,omitempty"`
	// EditDate is when messages.editMessage last changed the message.
	EditDate *time.Time `json:"edit_date,omitempty"`
	// Chat is the kind of chat a message to a group or channel landed in
	// (ChatGroup, ChatSupergroup, ChatChannel; to_id is the chat's Bot API
	// id, to its username or title), Topic the forum topic (0: the chat
	// itself or its General topic), ReplyTo the message it answers
	// outside topics (chats.go).
	Chat    string `json:"chat,omitempty"`
	Topic   int    `json:"topic,omitempty"`
	ReplyTo int    `json:"reply_to,omitempty"`
}

// Entity is a formatting entity: Type is gotd's TL name without the
// "messageEntity" prefix, lower-cased ("bold", "italic", "texturl", …).
type Entity struct {
	Type   string `json:"type"`
	Offset int    `json:"offset"`
	Length int    `json:"length"`
	URL    string `json:"url,omitempty"`
}

// Media is an attached photo or document.
type Media struct {
	Kind     string `json:"kind"` // "photo" or "document"
	ID       int64  `json:"id"`
	Name     string `json:"name,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
	Size     int64  `json:"size"`
}

// world is the sandbox's state: users, sessions, inboxes and counters, all
// under one mutex (the sandbox is small; simplicity beats contention here).
type world struct {
	opts Options
	mu   sync.Mutex
	rng  *mrand.Rand

	users      map[int64]*User
	byUsername map[string]*User
	byPhone    map[string]*User
	friends    []*User
	blocked    map[int64]bool
	neverRead  map[int64]bool
	bots       map[int64]string // bot id → token secret

	sessions   map[[8]byte]int64 // auth key id → logged-in user
	awaiting2F map[[8]byte]int64 // signed in by code, waiting for the password
	codes      map[string]string // phone_code_hash → phone
	srp        *srpVerifier
	challenges map[int64]*srpChallenge
	accounts   map[int64]*account

	inbox         map[int64][]Message
	calls         map[string]int
	uploads       map[uploadKey]*upload
	files         map[int64]*storedFile
	uploadedBytes int64
	floodWaits    int
	dropped       int
	delivered     int // by this run: restored messages are not counted
	deleted       int
	edited        int
	nextID        int64
	inboxLog      io.Writer

	// keys holds every auth key seen, for a persistent server only (nil
	// otherwise): tgtest keeps its own copy in memory.
	keys map[[8]byte]crypto.Key

	// cluster is the state of several DCs, cross-DC logins and QR tokens
	// (cluster.go); nil until first used.
	cluster *clusterState

	// chats and what happens in them, by Bot API id (chats.go).
	chats     map[int64]*Chat
	chatState map[int64]*chatState
}

// account is per-sender state: message ids and the messages sent, sent
// random_ids, rate bucket.
type account struct {
	userID int64
	// msgSeq is the last message id handed out: ids only grow, so a deleted
	// message's id is never reused. Telegram's ids grow too (history is paged
	// by id, https://core.telegram.org/api/offsets); that it never reuses a
	// deleted one is a guess.
	msgSeq int
	// out holds every message the account sent, deleted ones too, by id.
	out map[int]*outMsg
	// pts counts the account's message-box events (new messages, edits,
	// deletions) for the pts the answers carry
	// (https://core.telegram.org/api/updates#event-sequencing).
	pts      int
	sent     map[sentKey]sentRecord
	tokens   float64
	last     time.Time
	resolves int
	sends    int
}

// outMsg is one sent message as its sender's side knows it: the message
// itself stays in its recipient's inbox.
type outMsg struct {
	to   int64
	date time.Time
	// deleted is when the message was deleted for both sides; zero while
	// it exists. The date stays for read_outbox_max_id (dialogs.go).
	deleted time.Time
	// hidden: deleted for the sender only; the recipient keeps it.
	hidden bool
}

// visible reports whether the sender still has the message.
func (o *outMsg) visible() bool { return o.deleted.IsZero() && !o.hidden }

type sentKey struct {
	peer     int64
	randomID int64
}

type sentRecord struct {
	ids []int
}

func newWorld(opts Options) (*world, error) {
	seed := opts.Seed
	if seed == 0 {
		seed = mrand.Uint64()
	}
	w := &world{
		opts:       opts,
		rng:        mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		users:      map[int64]*User{},
		byUsername: map[string]*User{},
		byPhone:    map[string]*User{},
		blocked:    map[int64]bool{},
		neverRead:  map[int64]bool{},
		bots:       map[int64]string{},
		sessions:   map[[8]byte]int64{},
		awaiting2F: map[[8]byte]int64{},
		codes:      map[string]string{},
		challenges: map[int64]*srpChallenge{},
		accounts:   map[int64]*account{},
		inbox:      map[int64][]Message{},
		calls:      map[string]int{},
		uploads:    map[uploadKey]*upload{},
		files:      map[int64]*storedFile{},
		nextID:     1_000_000,
		inboxLog:   opts.InboxLog,
	}
	for i := 1; i <= opts.Users; i++ {
		u := &User{
			ID:         int64(1000 + i),
			AccessHash: accessHash(int64(1000 + i)),
			Username:   fmt.Sprintf("friend%d", i),
			FirstName:  firstNames[(i-1)%len(firstNames)],
			LastName:   fmt.Sprintf("Friend%d", i),
			Phone:      fmt.Sprintf("+1555%07d", i),
		}
		w.add(u)
		w.friends = append(w.friends, u)
	}
	for _, b := range opts.Blocked {
		w.blocked[w.friends[b-1].ID] = true
	}
	w.addChats()
	for _, b := range opts.NeverRead {
		w.neverRead[w.friends[b-1].ID] = true
	}
	if opts.Password != "" {
		v, err := newSRPVerifier(opts.Password)
		if err != nil {
			return nil, fmt.Errorf("set up 2FA: %w", err)
		}
		w.srp = v
	}
	return w, nil
}

var firstNames = []string{"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy"}

// accessHash is a fixed function of the id so tests can predict it and a
// stale or invented hash is rejected.
func accessHash(id int64) int64 {
	x := uint64(id) * 0x9e3779b97f4a7c15
	x ^= x >> 29
	return int64(x & 0x7fffffffffffffff)
}

func (w *world) add(u *User) {
	w.users[u.ID] = u
	if u.Username != "" {
		w.byUsername[strings.ToLower(u.Username)] = u
	}
	if u.Phone != "" {
		w.byPhone[u.Phone] = u
	}
}

func (w *world) lookup(name string) *User {
	switch {
	case strings.HasPrefix(name, "id:"):
		var id int64
		if _, err := fmt.Sscan(name[3:], &id); err != nil {
			return nil
		}
		return w.users[id]
	case strings.HasPrefix(name, "+"):
		return w.byPhone[name]
	default:
		return w.byUsername[strings.ToLower(strings.TrimPrefix(name, "@"))]
	}
}

func (w *world) account(id int64) *account {
	a := w.accounts[id]
	if a == nil {
		a = &account{userID: id, out: map[int]*outMsg{}, sent: map[sentKey]sentRecord{}, tokens: w.opts.SendRate}
		w.accounts[id] = a
	}
	return a
}

// deliver appends m to its recipient's inbox and the inbox log.
func (w *world) deliver(m Message) {
	w.inbox[m.ToID] = append(w.inbox[m.ToID], m)
	w.delivered++
	w.logLine(m)
}

// The inbox log's event lines (InboxFile). A delivery is a bare Message,
// as it always was, so readers of the old format keep working; what
// happens to a message later is a line with an "event":
//
//   - eventEdited: the whole message as it now reads, edit_date set.
//   - eventDeleted: the message left its recipient's inbox (deleted for
//     both sides); date is when.
//   - eventDeletedForSender: the sender deleted its own copy only; the
//     recipient keeps the message; date is when.
const (
	eventEdited           = "edited"
	eventDeleted          = "deleted"
	eventDeletedForSender = "deleted_for_sender"
)

// editedLine is an eventEdited line.
type editedLine struct {
	Event string `json:"event"`
	Message
}

// deletedLine is an eventDeleted or eventDeletedForSender line.
type deletedLine struct {
	Event  string    `json:"event"`
	ID     int       `json:"id"`
	FromID int64     `json:"from_id"`
	ToID   int64     `json:"to_id"`
	To     string    `json:"to"`
	Date   time.Time `json:"date"`
}

// logLine appends one JSON line to the inbox log. Call with w.mu held, so
// lines keep the order of the changes they record.
func (w *world) logLine(v any) {
	if w.inboxLog == nil {
		return
	}
	if b, err := json.Marshal(v); err == nil {
		_, _ = w.inboxLog.Write(append(b, '\n'))
	}
}

// takeSendSlot applies the per-account send rate: ok, or how long until a
// slot frees.
func (w *world) takeSendSlot(a *account, now time.Time) (time.Duration, bool) {
	r := w.opts.SendRate
	if r <= 0 {
		return 0, true
	}
	capacity := r
	if capacity < 1 {
		capacity = 1
	}
	if !a.last.IsZero() {
		a.tokens += now.Sub(a.last).Seconds() * r
		if a.tokens > capacity {
			a.tokens = capacity
		}
	} else {
		a.tokens = capacity
	}
	a.last = now
	if a.tokens >= 1 {
		a.tokens--
		return 0, true
	}
	return time.Duration((1 - a.tokens) / r * float64(time.Second)), false
}
