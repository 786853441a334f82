package sandbox

// transfer.go owns what a sandbox of several DCs answers when a request
// reaches the wrong one: PHONE_MIGRATE_X (auth.sendCode for a number that
// lives elsewhere), USER_MIGRATE_X (a bot's login elsewhere), FILE_MIGRATE_X
// (an upload on a DC other than Options.FileDC), and the authorization
// transfer that lets a logged-in client use another DC:
// auth.exportAuthorization and auth.importAuthorization.

import (
	"crypto/rand"
	"strconv"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// migrate is Telegram's 303 SEE_OTHER answer: "repeat the query to DC X"
// (https://core.telegram.org/api/errors#303-see-other). gotd reconnects its
// primary connection to DC X and repeats the query for PHONE_, USER_ and
// NETWORK_MIGRATE, and sends FILE_MIGRATE's query over a second
// connection authorized by transfer (TD/telegram/invoke.go).
func migrate(kind string, dc int) error {
	return tgerr.New(303, kind+"_MIGRATE_"+strconv.Itoa(dc))
}

// phoneMigrate is PHONE_MIGRATE_X for auth.sendCode on a DC other than
// the number's home: "the phone number a user is trying to use for
// authorization is associated with DC X" (the 303 table of
// https://core.telegram.org/api/errors). A number without an account yet
// is sent where it would live (the sandbox makes every number's account on
// first login).
func (s *Server) phoneMigrate(c *call, phone string) error {
	if home := s.homeDC(phone, 0); home != c.req.DC {
		return migrate("PHONE", home)
	}
	return nil
}

// botMigrate is USER_MIGRATE_X for auth.importBotAuthorization on a DC
// other than the bot's home: "the user whose identity is being used to
// execute queries is associated with DC X" (the same 303 table). That
// Telegram answers a bot's login this way is field-reported (it is what
// gotd's migration test and client handle); the table does not name the
// method.
func (s *Server) botMigrate(c *call, botID int64) error {
	if home := s.homeDC("", botID); home != c.req.DC {
		return migrate("USER", home)
	}
	return nil
}

// fileMigrate is FILE_MIGRATE_X for an upload part sent to a DC other than
// Options.FileDC: "the file to be accessed is currently stored in DC X"
// (the same 303 table). That Telegram answers it to upload.saveFilePart is
// a guess: its documentation names the error for file access in general
// and lists it for no upload method; it is how this sandbox makes a client
// carry an upload to another DC.
func (s *Server) fileMigrate(c *call) error {
	if dc := s.opts.FileDC; dc != 0 && dc != c.req.DC {
		return migrate("FILE", dc)
	}
	return nil
}

// exportedAuth is one auth.exportAuthorization answer, until imported.
type exportedAuth struct {
	user int64
	dc   int
}

// authExportAuthorization answers auth.exportAuthorization
// (https://core.telegram.org/method/auth.exportAuthorization): the
// caller's user id and random bytes that auth.importAuthorization on DC
// dc_id accepts once (https://core.telegram.org/api/datacenter#authorization-transfer).
// DC_ID_INVALID, from gotd's schema docs, for a DC the sandbox does not
// have, and for the caller's own DC as Telethon's error list describes it
// (tl.telethon.dev, auth.exportAuthorization: "exported for the same data
// center one is currently connected to"). That the bytes work once and do
// not expire is a guess; their length (32) is a guess.
func (s *Server) authExportAuthorization(c *call) (bin.Encoder, error) {
	var r tg.AuthExportAuthorizationRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	if s.nodeOf(r.DCID) == nil || r.DCID == c.req.DC {
		return nil, tgerr.New(400, "DC_ID_INVALID")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cl().exports[string(b)] = exportedAuth{user: c.self.ID, dc: r.DCID}
	return &tg.AuthExportedAuthorization{ID: c.self.ID, Bytes: b}, nil
}

// authImportAuthorization answers auth.importAuthorization
// (https://core.telegram.org/method/auth.importAuthorization): bytes from
// auth.exportAuthorization for this DC log the caller's key in as that
// user. AUTH_BYTES_INVALID and USER_ID_INVALID are from gotd's schema
// docs; bytes exported for another DC answer AUTH_BYTES_INVALID, a guess.
func (s *Server) authImportAuthorization(c *call) (bin.Encoder, error) {
	var r tg.AuthImportAuthorizationRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	cs := w.cl()
	e, ok := cs.exports[string(r.Bytes)]
	switch {
	case !ok || e.dc != c.req.DC:
		return nil, tgerr.New(400, "AUTH_BYTES_INVALID")
	case e.user != r.ID || w.users[e.user] == nil:
		return nil, tgerr.New(400, "USER_ID_INVALID")
	}
	delete(cs.exports, string(r.Bytes))
	w.sessions[c.key] = e.user
	return &tg.AuthAuthorization{User: w.users[e.user].tg(true)}, nil
}

// findUpload is the upload fileID names for the caller: one its own auth
// key made, else one another key logged in as the same account made (an
// upload carried to Options.FileDC over an imported authorization, which
// the send on the home DC then names). That Telegram lets a send on one DC
// use a file uploaded on another this way is a guess. Call with w.mu held.
func (w *world) findUpload(key [8]byte, self *User, fileID int64) *upload {
	if u := w.uploads[uploadKey{key: key, fileID: fileID}]; u != nil {
		return u
	}
	for k, u := range w.uploads {
		if k.fileID == fileID && w.sessions[k.key] == self.ID {
			return u
		}
	}
	return nil
}
