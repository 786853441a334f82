package sandbox

// rpc.go owns the dispatch: the method table, tgtest's message handler, the
// per-RPC goroutine (latency, lost answers, saving state) and how answers and
// errors go out. The methods themselves live in auth.go, users.go, help.go,
// messages.go, media.go, aftercare.go and dialogs.go; each cites where its
// Telegram semantics come from, and says so where they are a guess.

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"github.com/gotd/td/tgtest"
	"github.com/gotd/td/tmap"
)

// call is one RPC being answered.
type call struct {
	req  *tgtest.Request
	buf  *bin.Buffer
	key  [8]byte
	self *User // nil when the auth key is not logged in
	// srv is the tgtest server of the DC the request reached: the answer
	// goes back through it.
	srv *tgtest.Server
}

type method struct {
	name string
	fn   func(*Server, *call) (bin.Encoder, error)
	// auth: only a logged-in key may call it.
	auth bool
	// send: subject to lost-answer injection.
	send bool
	// state: changes what a persistent server keeps (logins, accounts,
	// ids), so the state is saved before the answer goes out.
	state bool
}

var methods = map[uint32]method{
	// help.go
	tg.HelpGetConfigRequestTypeID:       {name: "help.getConfig", fn: (*Server).helpGetConfig},
	tg.HelpGetNearestDCRequestTypeID:    {name: "help.getNearestDc", fn: (*Server).helpGetNearestDC},
	tg.UpdatesGetStateRequestTypeID:     {name: "updates.getState", fn: (*Server).updatesGetState, auth: true},
	tg.AccountUpdateStatusRequestTypeID: {name: "account.updateStatus", fn: (*Server).accountUpdateStatus, auth: true},
	// auth.go
	tg.AuthSendCodeRequestTypeID:               {name: "auth.sendCode", fn: (*Server).authSendCode},
	tg.AuthSignInRequestTypeID:                 {name: "auth.signIn", fn: (*Server).authSignIn, state: true},
	tg.AccountGetPasswordRequestTypeID:         {name: "account.getPassword", fn: (*Server).accountGetPassword},
	tg.AuthCheckPasswordRequestTypeID:          {name: "auth.checkPassword", fn: (*Server).authCheckPassword, state: true},
	tg.AuthImportBotAuthorizationRequestTypeID: {name: "auth.importBotAuthorization", fn: (*Server).authImportBot, state: true},
	tg.AuthLogOutRequestTypeID:                 {name: "auth.logOut", fn: (*Server).authLogOut, auth: true, state: true},
	// transfer.go and qrlogin.go
	tg.AuthExportAuthorizationRequestTypeID: {name: "auth.exportAuthorization", fn: (*Server).authExportAuthorization, auth: true},
	tg.AuthImportAuthorizationRequestTypeID: {name: "auth.importAuthorization", fn: (*Server).authImportAuthorization, state: true},
	tg.AuthExportLoginTokenRequestTypeID:    {name: "auth.exportLoginToken", fn: (*Server).authExportLoginToken, state: true},
	tg.AuthAcceptLoginTokenRequestTypeID:    {name: "auth.acceptLoginToken", fn: (*Server).authAcceptLoginToken, auth: true},
	tg.AuthImportLoginTokenRequestTypeID:    {name: "auth.importLoginToken", fn: (*Server).authImportLoginToken, state: true},
	// users.go
	tg.UsersGetUsersRequestTypeID:           {name: "users.getUsers", fn: (*Server).usersGetUsers, auth: true},
	tg.UsersGetFullUserRequestTypeID:        {name: "users.getFullUser", fn: (*Server).usersGetFullUser, auth: true},
	tg.ContactsResolveUsernameRequestTypeID: {name: "contacts.resolveUsername", fn: (*Server).resolveUsername, auth: true},
	tg.ContactsResolvePhoneRequestTypeID:    {name: "contacts.resolvePhone", fn: (*Server).resolvePhone, auth: true},
	// messages.go and media.go
	tg.MessagesSendMessageRequestTypeID:    {name: "messages.sendMessage", fn: (*Server).sendMessage, auth: true, send: true},
	tg.MessagesSendMediaRequestTypeID:      {name: "messages.sendMedia", fn: (*Server).sendMedia, auth: true, send: true},
	tg.MessagesSendMultiMediaRequestTypeID: {name: "messages.sendMultiMedia", fn: (*Server).sendMultiMedia, auth: true, send: true},
	tg.MessagesUploadMediaRequestTypeID:    {name: "messages.uploadMedia", fn: (*Server).uploadMedia, auth: true, state: true},
	tg.UploadSaveFilePartRequestTypeID:     {name: "upload.saveFilePart", fn: (*Server).saveFilePart, auth: true},
	tg.UploadSaveBigFilePartRequestTypeID:  {name: "upload.saveBigFilePart", fn: (*Server).saveBigFilePart, auth: true},
	// aftercare.go and dialogs.go
	tg.MessagesDeleteMessagesRequestTypeID: {name: "messages.deleteMessages", fn: (*Server).deleteMessages, auth: true},
	tg.MessagesEditMessageRequestTypeID:    {name: "messages.editMessage", fn: (*Server).editMessage, auth: true},
	tg.MessagesGetPeerDialogsRequestTypeID: {name: "messages.getPeerDialogs", fn: (*Server).getPeerDialogs, auth: true},
}

// typeNames names methods the sandbox does not implement, for its counters.
var typeNames = tmap.New(tg.TypesMap())

// Errors more than one method answers. AUTH_KEY_UNREGISTERED (401) is how
// Telegram refuses a key that is not logged in
// (https://core.telegram.org/api/errors#401-unauthorized; gotd's
// auth.IsKeyUnregistered); INPUT_METHOD_INVALID for a method the sandbox
// does not implement is what gotd's own test server answers
// (tgtest/services.ErrMethodNotImplemented); PEER_ID_INVALID and
// USER_ID_INVALID, for an unknown id or a wrong access hash, are in gotd's
// schema docs for the sends and users.getFullUser.
var (
	errAuthKeyUnregistered = tgerr.New(401, "AUTH_KEY_UNREGISTERED")
	errNotImplemented      = tgerr.New(400, "INPUT_METHOD_INVALID")
	errPeerIDInvalid       = tgerr.New(400, "PEER_ID_INVALID")
	errUserIDInvalid       = tgerr.New(400, "USER_ID_INVALID")
)

// serviceMessages reach the handler like RPCs in tgtest; they need no answer.
var serviceMessages = map[uint32]bool{
	mt.MsgsAckTypeID:               true,
	mt.MsgsStateReqTypeID:          true,
	mt.MsgResendReqTypeID:          true,
	mt.MsgsAllInfoTypeID:           true,
	mt.DestroySessionRequestTypeID: true,
	mt.MsgDetailedInfoTypeID:       true,
	mt.MsgNewDetailedInfoTypeID:    true,
}

// onMessage is tgtest's handler. tgtest runs one message at a time per
// connection with a buffer it reuses, so every RPC is copied and answered on
// its own goroutine: latency then applies per RPC, not per connection.
func (s *Server) onMessage(srv *tgtest.Server, req *tgtest.Request) error {
	id, err := req.Buf.PeekID()
	if err != nil {
		return err
	}
	// A persistent server keeps every auth key from its first message on.
	s.noteKeyDC(req.DC, req.Session.AuthKey.ID)
	s.noteKey(req.Session.AuthKey)
	if serviceMessages[id] {
		return nil
	}
	m, ok := methods[id]
	if !ok || m.fn == nil {
		name := typeNames.Get(id)
		if name == "" {
			name = fmt.Sprintf("unknown#%x", id)
		}
		s.world.count(name)
		s.world.countDC(req.DC, name)
		return errNotImplemented
	}
	c := &call{
		req: &tgtest.Request{
			DC:         req.DC,
			Session:    req.Session,
			MsgID:      req.MsgID,
			RequestCtx: s.ctx,
		},
		buf: &bin.Buffer{Buf: append([]byte(nil), req.Buf.Buf...)},
		key: req.Session.AuthKey.ID,
		srv: srv,
	}
	c.req.Buf = c.buf
	if !s.begin(c) {
		// gotd resends a request that is not answered within its retry
		// interval, with the same msg_id; like Telegram, answer it once.
		return nil
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.end(c)
		s.serve(m, c)
	}()
	return nil
}

// flightKey names a request: msg_ids are unique per auth key.
type flightKey struct {
	key   [8]byte
	msgID int64
}

// begin marks c as being answered; false if it already is.
func (s *Server) begin(c *call) bool {
	k := flightKey{key: c.key, msgID: c.req.MsgID}
	s.flightMu.Lock()
	defer s.flightMu.Unlock()
	if _, dup := s.inFlight[k]; dup {
		return false
	}
	s.inFlight[k] = struct{}{}
	return true
}

// end unmarks c: a later copy of it (gotd's resend of an answer it lost) is
// answered again, as the random_id dedupe expects.
func (s *Server) end(c *call) {
	s.flightMu.Lock()
	delete(s.inFlight, flightKey{key: c.key, msgID: c.req.MsgID})
	s.flightMu.Unlock()
}

// serve answers one RPC on its own goroutine: the latency, the login check,
// the method, then the answer, or a lost one (the connection dropped after
// the work is done, optionally acknowledged first: how MTProto and gotd
// behave then is in shared/TELEGRAM.md, "Lost acknowledgements").
func (s *Server) serve(m method, c *call) {
	if s.opts.Latency > 0 {
		t := time.NewTimer(s.opts.Latency)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
	}
	w := s.world
	w.mu.Lock()
	w.calls[m.name]++
	w.countOn(c.req.DC, m.name)
	if id, ok := w.sessions[c.key]; ok {
		u := *w.users[id]
		c.self = &u
	}
	drop := m.send && w.opts.DropAnswer > 0 && w.rng.Float64() < w.opts.DropAnswer
	w.mu.Unlock()

	if m.auth && c.self == nil {
		s.answer(c, nil, s.unauthorized(c.key))
		return
	}
	if drop && s.opts.AckBeforeDrop {
		_ = c.srv.SendAck(s.ctx, c.req.Session, c.req.MsgID)
	}
	res, err := m.fn(s, c)
	if m.state {
		// Before the answer: a client told it is logged in must stay so
		// after a restart.
		s.saveOrWarn()
	}
	if drop {
		w.mu.Lock()
		w.dropped++
		w.mu.Unlock()
		s.end(c) // before the client can reconnect and resend it
		c.srv.ForceDisconnect(c.req.Session)
		return
	}
	s.answer(c, res, err)
}

// answer sends res, or err as an rpc_error: a *tgerr.Error as it is,
// anything else as 500 INTERNAL.
func (s *Server) answer(c *call, res bin.Encoder, err error) {
	var rpcErr *tgerr.Error
	switch {
	case err == nil:
		err = c.srv.SendResult(c.req, res)
	case errors.As(err, &rpcErr):
		if _, ok := tgerr.AsFloodWait(err); ok {
			s.world.mu.Lock()
			s.world.floodWaits++
			s.world.mu.Unlock()
		}
		err = c.srv.SendErr(c.req, rpcErr)
	default:
		s.log.Warn("rpc failed", "error", err)
		err = c.srv.SendErr(c.req, tgerr.New(500, "INTERNAL"))
	}
	if err != nil && s.ctx.Err() == nil {
		s.log.Debug("answer not sent", "error", err)
	}
}

// count counts a call to a method the sandbox does not implement.
func (w *world) count(name string) {
	w.mu.Lock()
	w.calls[name]++
	w.mu.Unlock()
}

// floodWait is Telegram's FLOOD_WAIT_X (420; X in seconds,
// https://core.telegram.org/api/errors#420-flood), X rounded up and at least
// 1: gotd's tgerr.AsFloodWait reads FLOOD_WAIT_0 as no wait at all.
func floodWait(d time.Duration) error {
	secs := int(math.Ceil(d.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return tgerr.New(420, "FLOOD_WAIT_"+strconv.Itoa(secs))
}
