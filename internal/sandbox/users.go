package sandbox

// users.go owns finding users: users.getUsers and users.getFullUser by
// InputUser (id and access hash), contacts.resolveUsername and
// contacts.resolvePhone by name, and the User → tg.User conversion every
// answer that names a user shares.

import (
	"regexp"
	"strings"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// tg is u as Telegram sends it: the phone without "+", as tg.User.Phone
// carries it; self marks the logged-in account's own user.
func (u *User) tg(self bool) *tg.User {
	t := &tg.User{
		ID:         u.ID,
		AccessHash: u.AccessHash,
		FirstName:  u.FirstName,
		LastName:   u.LastName,
		Username:   u.Username,
		Phone:      strings.TrimPrefix(u.Phone, "+"),
		Bot:        u.Bot,
		Self:       self,
	}
	return t
}

// usersGetUsers answers users.getUsers
// (https://core.telegram.org/method/users.getUsers): the users it can
// resolve, in order, and none for an id or access hash it cannot (leaving
// them out rather than failing the call is a guess).
func (s *Server) usersGetUsers(c *call) (bin.Encoder, error) {
	var r tg.UsersGetUsersRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	out := &tg.UserClassVector{}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, in := range r.ID {
		u, err := w.inputUser(c.self, in)
		if err != nil {
			continue
		}
		out.Elems = append(out.Elems, u.tg(u.ID == c.self.ID))
	}
	return out, nil
}

// usersGetFullUser answers users.getFullUser
// (https://core.telegram.org/method/users.getFullUser) with USER_ID_INVALID
// for an unknown user or a wrong access hash, as gotd's schema docs list it;
// the full user carries no more than its id.
func (s *Server) usersGetFullUser(c *call) (bin.Encoder, error) {
	var r tg.UsersGetFullUserRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	u, err := w.inputUser(c.self, r.ID)
	if err != nil {
		return nil, err
	}
	return &tg.UsersUserFull{
		FullUser: tg.UserFull{ID: u.ID, Settings: tg.PeerSettings{}, NotifySettings: tg.PeerNotifySettings{}},
		Users:    []tg.UserClass{u.tg(u.ID == c.self.ID)},
	}, nil
}

// inputUser resolves an InputUser, checking the access hash as Telegram does.
func (w *world) inputUser(self *User, in tg.InputUserClass) (*User, error) {
	switch v := in.(type) {
	case *tg.InputUserSelf:
		return w.users[self.ID], nil
	case *tg.InputUser:
		return w.userWithHash(v.UserID, v.AccessHash, errUserIDInvalid)
	default:
		return nil, errUserIDInvalid
	}
}

// userWithHash is the user id names if hash is its access hash, and bad
// otherwise. An access hash is per user here (on Telegram also per account
// that sees it: https://core.telegram.org/api/peers), so a stale or
// invented one is refused like an unknown id.
func (w *world) userWithHash(id, hash int64, bad error) (*User, error) {
	u := w.users[id]
	if u == nil || u.AccessHash != hash {
		return nil, bad
	}
	return u, nil
}

// usernameRe is close to TDLib's is_valid_username (td/telegram/misc.cpp:
// a letter first, then letters, digits and "_", at most 32, no "_" at the
// end, which resolveUsername checks apart). The minimum of 4 and allowing
// "__" are guesses.
var usernameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{3,31}$`)

// resolveUsername answers contacts.resolveUsername
// (https://core.telegram.org/method/contacts.resolveUsername), ignoring
// case, with USERNAME_INVALID and USERNAME_NOT_OCCUPIED from gotd's schema
// docs. Options.ResolveLimit stands in for Telegram's undocumented hard
// limit on it (field reports of waits from 45 minutes to 17 hours after a
// few hundred calls, shared/TELEGRAM.md "Limits"); that every call counts,
// valid or not, is a guess.
func (s *Server) resolveUsername(c *call) (bin.Encoder, error) {
	var r tg.ContactsResolveUsernameRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.account(c.self.ID)
	a.resolves++
	if w.opts.ResolveLimit > 0 && a.resolves > w.opts.ResolveLimit {
		return nil, floodWait(w.opts.ResolveWait)
	}
	if !usernameRe.MatchString(r.Username) || strings.HasSuffix(r.Username, "_") {
		return nil, tgerr.New(400, "USERNAME_INVALID")
	}
	u := w.byUsername[strings.ToLower(r.Username)]
	if u == nil {
		// Usernames are one space for users and chats: a public group or
		// channel resolves to its peerChannel, with the channel in chats.
		if ch := w.lookupChat("@" + r.Username); ch != nil && ch.Username != "" {
			return &tg.ContactsResolvedPeer{Peer: chatPeerClass(ch), Users: []tg.UserClass{}, Chats: []tg.ChatClass{ch.tg()}}, nil
		}
		return nil, tgerr.New(400, "USERNAME_NOT_OCCUPIED")
	}
	return resolved(c.self, u), nil
}

// resolvePhone answers contacts.resolvePhone
// (https://core.telegram.org/method/contacts.resolvePhone) with
// PHONE_NOT_OCCUPIED for a number without an account, from gotd's schema
// docs. Privacy settings, which may hide a number on Telegram, and the
// documented one call every 3 s are not modelled.
func (s *Server) resolvePhone(c *call) (bin.Encoder, error) {
	var r tg.ContactsResolvePhoneRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	phone, err := validPhone(r.Phone)
	if err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.byPhone[phone]
	if u == nil {
		return nil, tgerr.New(400, "PHONE_NOT_OCCUPIED")
	}
	return resolved(c.self, u), nil
}

// resolved is the answer to a resolve: the peer and its user.
func resolved(self, u *User) *tg.ContactsResolvedPeer {
	return &tg.ContactsResolvedPeer{
		Peer:  &tg.PeerUser{UserID: u.ID},
		Users: []tg.UserClass{u.tg(u.ID == self.ID)},
		Chats: []tg.ChatClass{},
	}
}
