package sandbox

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
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
	tg.HelpGetConfigRequestTypeID:              {name: "help.getConfig", fn: (*Server).helpGetConfig},
	tg.UpdatesGetStateRequestTypeID:            {name: "updates.getState", fn: (*Server).updatesGetState, auth: true},
	tg.UsersGetUsersRequestTypeID:              {name: "users.getUsers", fn: (*Server).usersGetUsers, auth: true},
	tg.UsersGetFullUserRequestTypeID:           {name: "users.getFullUser", fn: (*Server).usersGetFullUser, auth: true},
	tg.AuthSendCodeRequestTypeID:               {name: "auth.sendCode", fn: (*Server).authSendCode},
	tg.AuthSignInRequestTypeID:                 {name: "auth.signIn", fn: (*Server).authSignIn, state: true},
	tg.AccountGetPasswordRequestTypeID:         {name: "account.getPassword", fn: (*Server).accountGetPassword},
	tg.AuthCheckPasswordRequestTypeID:          {name: "auth.checkPassword", fn: (*Server).authCheckPassword, state: true},
	tg.AuthImportBotAuthorizationRequestTypeID: {name: "auth.importBotAuthorization", fn: (*Server).authImportBot, state: true},
	tg.AuthLogOutRequestTypeID:                 {name: "auth.logOut", fn: (*Server).authLogOut, auth: true, state: true},
	tg.ContactsResolveUsernameRequestTypeID:    {name: "contacts.resolveUsername", fn: (*Server).resolveUsername, auth: true},
	tg.ContactsResolvePhoneRequestTypeID:       {name: "contacts.resolvePhone", fn: (*Server).resolvePhone, auth: true},
	tg.MessagesSendMessageRequestTypeID:        {name: "messages.sendMessage", fn: (*Server).sendMessage, auth: true, send: true},
	tg.MessagesSendMediaRequestTypeID:          {name: "messages.sendMedia", fn: (*Server).sendMedia, auth: true, send: true},
	tg.MessagesSendMultiMediaRequestTypeID:     {name: "messages.sendMultiMedia", fn: (*Server).sendMultiMedia, auth: true, send: true},
	tg.MessagesUploadMediaRequestTypeID:        {name: "messages.uploadMedia", fn: (*Server).uploadMedia, auth: true, state: true},
	tg.UploadSaveFilePartRequestTypeID:         {name: "upload.saveFilePart", fn: (*Server).saveFilePart, auth: true},
	tg.UploadSaveBigFilePartRequestTypeID:      {name: "upload.saveBigFilePart", fn: (*Server).saveBigFilePart, auth: true},
	tg.HelpGetNearestDCRequestTypeID:           {name: "help.getNearestDc", fn: (*Server).helpGetNearestDC},
	tg.AccountUpdateStatusRequestTypeID:        {name: "account.updateStatus", fn: (*Server).boolTrue, auth: true},
}

// typeNames names methods the sandbox does not implement, for its counters.
var typeNames = tmap.New(tg.TypesMap())

var (
	errAuthKeyUnregistered = tgerr.New(401, "AUTH_KEY_UNREGISTERED")
	errNotImplemented      = tgerr.New(400, "INPUT_METHOD_INVALID")
	errPeerIDInvalid       = tgerr.New(400, "PEER_ID_INVALID")
	errDropped             = errors.New("answer dropped")
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
	if id, ok := w.sessions[c.key]; ok {
		u := *w.users[id]
		c.self = &u
	}
	drop := m.send && w.opts.DropAnswer > 0 && w.rng.Float64() < w.opts.DropAnswer
	w.mu.Unlock()

	if m.auth && c.self == nil {
		s.answer(c, nil, errAuthKeyUnregistered)
		return
	}
	if drop && s.opts.AckBeforeDrop {
		_ = s.srv.SendAck(s.ctx, c.req.Session, c.req.MsgID)
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
		s.srv.ForceDisconnect(c.req.Session)
		return
	}
	s.answer(c, res, err)
}

func (s *Server) answer(c *call, res bin.Encoder, err error) {
	var rpcErr *tgerr.Error
	switch {
	case err == nil:
		err = s.srv.SendResult(c.req, res)
	case errors.As(err, &rpcErr):
		if _, ok := tgerr.AsFloodWait(err); ok {
			s.world.mu.Lock()
			s.world.floodWaits++
			s.world.mu.Unlock()
		}
		err = s.srv.SendErr(c.req, rpcErr)
	default:
		s.log.Warn("rpc failed", "error", err)
		err = s.srv.SendErr(c.req, tgerr.New(500, "INTERNAL"))
	}
	if err != nil && s.ctx.Err() == nil {
		s.log.Debug("answer not sent", "error", err)
	}
}

func (w *world) count(name string) {
	w.mu.Lock()
	w.calls[name]++
	w.mu.Unlock()
}

func floodWait(d time.Duration) error {
	secs := int(math.Ceil(d.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return tgerr.New(420, "FLOOD_WAIT_"+strconv.Itoa(secs))
}

func (s *Server) boolTrue(*call) (bin.Encoder, error) { return &tg.BoolTrue{}, nil }

func (s *Server) helpGetConfig(c *call) (bin.Encoder, error) {
	var r tg.HelpGetConfigRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	now := time.Now()
	// The client replaces its DC list with these options, so the server must
	// advertise its own address.
	return &tg.Config{
		Date:                    int(now.Unix()),
		Expires:                 int(now.Add(time.Hour).Unix()),
		ThisDC:                  s.opts.DC,
		DCOptions:               []tg.DCOption{{ID: s.opts.DC, IPAddress: s.addr.IP.String(), Port: s.addr.Port, Static: true}},
		ChatSizeMax:             200,
		MegagroupSizeMax:        200000,
		ForwardedCountMax:       100,
		OnlineUpdatePeriodMs:    210000,
		OfflineBlurTimeoutMs:    5000,
		OfflineIdleTimeoutMs:    30000,
		OnlineCloudTimeoutMs:    300000,
		NotifyCloudDelayMs:      30000,
		NotifyDefaultDelayMs:    1500,
		PushChatPeriodMs:        60000,
		PushChatLimit:           2,
		EditTimeLimit:           172800,
		RevokeTimeLimit:         172800,
		RevokePmTimeLimit:       172800,
		RatingEDecay:            2419200,
		StickersRecentLimit:     200,
		ChannelsReadMediaPeriod: 604800,
		CallReceiveTimeoutMs:    20000,
		CallRingTimeoutMs:       90000,
		CallConnectTimeoutMs:    30000,
		CallPacketTimeoutMs:     10000,
		MeURLPrefix:             "https://t.me/",
		CaptionLengthMax:        CaptionLengthMax,
		MessageLengthMax:        MessageLengthMax,
		WebfileDCID:             s.opts.DC,
	}, nil
}

func (s *Server) helpGetNearestDC(c *call) (bin.Encoder, error) {
	return &tg.NearestDC{Country: "XX", ThisDC: s.opts.DC, NearestDC: s.opts.DC}, nil
}

// MessageLengthMax and CaptionLengthMax are Telegram's limits in UTF-16
// code units, announced in help.getConfig and enforced on sends.
const (
	MessageLengthMax = 4096
	CaptionLengthMax = 1024
)

func (s *Server) updatesGetState(*call) (bin.Encoder, error) {
	return &tg.UpdatesState{Pts: 1, Qts: 0, Date: int(time.Now().Unix()), Seq: 1}, nil
}

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
		u := w.users[v.UserID]
		if u == nil || u.AccessHash != v.AccessHash {
			return nil, tgerr.New(400, "USER_ID_INVALID")
		}
		return u, nil
	default:
		return nil, tgerr.New(400, "USER_ID_INVALID")
	}
}

// inputPeer resolves the destination of a send.
func (w *world) inputPeer(self *User, in tg.InputPeerClass) (*User, error) {
	switch v := in.(type) {
	case *tg.InputPeerSelf:
		return w.users[self.ID], nil
	case *tg.InputPeerUser:
		u := w.users[v.UserID]
		if u == nil || u.AccessHash != v.AccessHash {
			return nil, errPeerIDInvalid
		}
		return u, nil
	default:
		return nil, errPeerIDInvalid
	}
}

// LoginCode is the code phone logins accept by default, as on Telegram's
// test DCs.
const LoginCode = "22222"

var phoneRe = regexp.MustCompile(`^\+?[0-9]{5,15}$`)

func normPhone(p string) string {
	p = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "").Replace(p)
	return "+" + strings.TrimPrefix(p, "+")
}

func (s *Server) authSendCode(c *call) (bin.Encoder, error) {
	var r tg.AuthSendCodeRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	phone := normPhone(r.PhoneNumber)
	if !phoneRe.MatchString(phone) {
		return nil, tgerr.New(400, "PHONE_NUMBER_INVALID")
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	hash := strconv.FormatUint(w.rng.Uint64(), 16)
	w.codes[hash] = phone
	return &tg.AuthSentCode{
		Type:          &tg.AuthSentCodeTypeApp{Length: len(s.opts.LoginCode)},
		PhoneCodeHash: hash,
	}, nil
}

func (s *Server) authSignIn(c *call) (bin.Encoder, error) {
	var r tg.AuthSignInRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	phone, ok := w.codes[r.PhoneCodeHash]
	if !ok || phone != normPhone(r.PhoneNumber) {
		return nil, tgerr.New(400, "PHONE_CODE_EXPIRED")
	}
	if r.PhoneCode != s.opts.LoginCode {
		return nil, tgerr.New(400, "PHONE_CODE_INVALID")
	}
	delete(w.codes, r.PhoneCodeHash)
	u := w.byPhone[phone]
	if u == nil {
		// Every number has an account here: sign-up is not part of the sandbox.
		w.nextID++
		u = &User{ID: w.nextID, AccessHash: accessHash(w.nextID), FirstName: "Me", LastName: "Sandbox", Phone: phone}
		w.add(u)
	}
	if w.srp != nil {
		w.awaiting2F[c.key] = u.ID
		return nil, tgerr.New(401, "SESSION_PASSWORD_NEEDED")
	}
	w.sessions[c.key] = u.ID
	return &tg.AuthAuthorization{User: u.tg(true)}, nil
}

func (s *Server) accountGetPassword(c *call) (bin.Encoder, error) {
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.srp == nil {
		return &tg.AccountPassword{
			NewAlgo:       &tg.PasswordKdfAlgoUnknown{},
			NewSecureAlgo: &tg.SecurePasswordKdfAlgoUnknown{},
			SecureRandom:  make([]byte, 32),
		}, nil
	}
	id := int64(w.rng.Uint64() >> 1)
	ch, err := w.srp.challenge(id)
	if err != nil {
		return nil, err
	}
	w.challenges[id] = ch
	return &tg.AccountPassword{
		HasPassword:   true,
		CurrentAlgo:   w.srp.algo(),
		SRPB:          ch.gb,
		SRPID:         id,
		NewAlgo:       w.srp.algo(),
		NewSecureAlgo: &tg.SecurePasswordKdfAlgoUnknown{},
		SecureRandom:  make([]byte, 32),
	}, nil
}

func (s *Server) authCheckPassword(c *call) (bin.Encoder, error) {
	var r tg.AuthCheckPasswordRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	uid, ok := w.awaiting2F[c.key]
	if !ok || w.srp == nil {
		return nil, tgerr.New(400, "PASSWORD_HASH_INVALID")
	}
	in, ok := r.Password.(*tg.InputCheckPasswordSRP)
	if !ok {
		return nil, tgerr.New(400, "PASSWORD_HASH_INVALID")
	}
	ch := w.challenges[in.SRPID]
	if ch == nil {
		return nil, tgerr.New(400, "SRP_ID_INVALID")
	}
	delete(w.challenges, in.SRPID)
	if !w.srp.check(ch, in.A, in.M1) {
		return nil, tgerr.New(400, "PASSWORD_HASH_INVALID")
	}
	delete(w.awaiting2F, c.key)
	w.sessions[c.key] = uid
	return &tg.AuthAuthorization{User: w.users[uid].tg(true)}, nil
}

// botTokenRe is the shape of Telegram's bot tokens: "<bot id>:<secret>".
var botTokenRe = regexp.MustCompile(`^([0-9]{1,15}):([A-Za-z0-9_-]{8,})$`)

func (s *Server) authImportBot(c *call) (bin.Encoder, error) {
	var r tg.AuthImportBotAuthorizationRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	m := botTokenRe.FindStringSubmatch(r.BotAuthToken)
	if m == nil {
		return nil, tgerr.New(400, "ACCESS_TOKEN_INVALID")
	}
	id, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || id <= 0 {
		return nil, tgerr.New(400, "ACCESS_TOKEN_INVALID")
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	if secret, ok := w.bots[id]; ok && secret != m[2] {
		return nil, tgerr.New(401, "ACCESS_TOKEN_EXPIRED")
	}
	u := w.users[id]
	if u == nil {
		w.bots[id] = m[2]
		u = &User{ID: id, AccessHash: accessHash(id), FirstName: "Sandbox Bot", Username: fmt.Sprintf("sandbox%d_bot", id), Bot: true}
		w.add(u)
	} else if !u.Bot {
		return nil, tgerr.New(400, "ACCESS_TOKEN_INVALID")
	}
	w.sessions[c.key] = u.ID
	return &tg.AuthAuthorization{User: u.tg(true)}, nil
}

func (s *Server) authLogOut(c *call) (bin.Encoder, error) {
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.sessions, c.key)
	return &tg.AuthLoggedOut{}, nil
}

var usernameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{3,31}$`)

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
		return nil, tgerr.New(400, "USERNAME_NOT_OCCUPIED")
	}
	return &tg.ContactsResolvedPeer{
		Peer:  &tg.PeerUser{UserID: u.ID},
		Users: []tg.UserClass{u.tg(u.ID == c.self.ID)},
		Chats: []tg.ChatClass{},
	}, nil
}

func (s *Server) resolvePhone(c *call) (bin.Encoder, error) {
	var r tg.ContactsResolvePhoneRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	phone := normPhone(r.Phone)
	if !phoneRe.MatchString(phone) {
		return nil, tgerr.New(400, "PHONE_NUMBER_INVALID")
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.byPhone[phone]
	if u == nil {
		return nil, tgerr.New(400, "PHONE_NOT_OCCUPIED")
	}
	return &tg.ContactsResolvedPeer{
		Peer:  &tg.PeerUser{UserID: u.ID},
		Users: []tg.UserClass{u.tg(u.ID == c.self.ID)},
		Chats: []tg.ChatClass{},
	}, nil
}

// outgoing is what every send method shares: destination checks, the
// random_id dedupe and the per-account rate.
type outgoing struct {
	peer         tg.InputPeerClass
	randomID     int64
	text         string
	entities     []tg.MessageEntityClass
	silent       bool
	noPreview    bool
	scheduleDate int
	media        *Media
	mediaTG      tg.MessageMediaClass
	groupedID    int64
}

// prepare checks a send and reports whether its random_id was already
// delivered (then ids holds the original message ids). Call with w.mu held.
func (w *world) prepare(self *User, o *outgoing, caption bool, now time.Time) (to *User, ids []int, err error) {
	to, err = w.inputPeer(self, o.peer)
	if err != nil {
		return nil, nil, err
	}
	a := w.account(self.ID)
	if rec, ok := a.sent[sentKey{peer: to.ID, randomID: o.randomID}]; ok {
		// Telegram answers a repeated random_id with the original message.
		return to, rec.ids, nil
	}
	if o.randomID == 0 {
		return nil, nil, tgerr.New(400, "RANDOM_ID_INVALID")
	}
	n := utf16Len(o.text)
	switch {
	case !caption && strings.TrimSpace(o.text) == "":
		return nil, nil, tgerr.New(400, "MESSAGE_EMPTY")
	case !caption && n > MessageLengthMax:
		return nil, nil, tgerr.New(400, "MESSAGE_TOO_LONG")
	case caption && n > CaptionLengthMax:
		return nil, nil, tgerr.New(400, "MEDIA_CAPTION_TOO_LONG")
	}
	if o.scheduleDate != 0 && time.Unix(int64(o.scheduleDate), 0).Before(now.Add(10*time.Second)) {
		return nil, nil, tgerr.New(400, "SCHEDULE_DATE_INVALID")
	}
	if w.blocked[to.ID] {
		return nil, nil, tgerr.New(403, "USER_IS_BLOCKED")
	}
	if w.opts.PeerFloodAfter > 0 && a.sends >= w.opts.PeerFloodAfter {
		return nil, nil, tgerr.New(400, "PEER_FLOOD")
	}
	if wait, ok := w.takeSendSlot(a, now); !ok {
		return nil, nil, floodWait(wait)
	}
	a.sends++
	return to, nil, nil
}

// commit delivers o to its recipient and records its random_id. Call with
// w.mu held.
func (w *world) commit(self, to *User, o *outgoing, now time.Time) int {
	a := w.account(self.ID)
	a.msgSeq++
	id := a.msgSeq
	key := sentKey{peer: to.ID, randomID: o.randomID}
	rec := a.sent[key]
	rec.ids = append(rec.ids, id)
	a.sent[key] = rec
	m := Message{
		ID:        id,
		FromID:    self.ID,
		ToID:      to.ID,
		To:        to.Username,
		Text:      o.text,
		Entities:  entities(o.entities),
		Media:     o.media,
		RandomID:  o.randomID,
		Date:      now.UTC(),
		Silent:    o.silent,
		NoPreview: o.noPreview,
		GroupedID: o.groupedID,
	}
	if m.To == "" {
		m.To = to.Phone
	}
	if o.scheduleDate != 0 {
		t := time.Unix(int64(o.scheduleDate), 0).UTC()
		m.ScheduleDate = &t
	}
	w.deliver(m)
	return id
}

func (s *Server) sendMessage(c *call) (bin.Encoder, error) {
	var r tg.MessagesSendMessageRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	o := &outgoing{
		peer: r.Peer, randomID: r.RandomID, text: r.Message, entities: r.Entities,
		silent: r.Silent, noPreview: r.NoWebpage, scheduleDate: r.ScheduleDate,
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	to, ids, err := w.prepare(c.self, o, false, now)
	if err != nil {
		return nil, err
	}
	if ids == nil {
		ids = []int{w.commit(c.self, to, o, now)}
	}
	if o.scheduleDate != 0 {
		return w.updates(c.self, to, o, ids[0], now), nil
	}
	return &tg.UpdateShortSentMessage{Out: true, ID: ids[0], Date: int(now.Unix()), Entities: r.Entities}, nil
}

// updates is the answer Telegram gives to media and scheduled sends: the
// random_id → id mapping and the new message.
func (w *world) updates(self, to *User, o *outgoing, id int, now time.Time) *tg.Updates {
	msg := &tg.Message{
		Out:      true,
		ID:       id,
		FromID:   &tg.PeerUser{UserID: self.ID},
		PeerID:   &tg.PeerUser{UserID: to.ID},
		Date:     int(now.Unix()),
		Message:  o.text,
		Entities: o.entities,
		Silent:   o.silent,
	}
	if o.mediaTG != nil {
		msg.Media = o.mediaTG
	}
	if o.groupedID != 0 {
		msg.GroupedID = o.groupedID
	}
	var upd tg.UpdateClass = &tg.UpdateNewMessage{Message: msg, Pts: id, PtsCount: 1}
	if o.scheduleDate != 0 {
		msg.Date = o.scheduleDate
		msg.FromScheduled = true
		upd = &tg.UpdateNewScheduledMessage{Message: msg}
	}
	return &tg.Updates{
		Updates: []tg.UpdateClass{&tg.UpdateMessageID{ID: id, RandomID: o.randomID}, upd},
		Users:   []tg.UserClass{self.tg(true), to.tg(to.ID == self.ID)},
		Chats:   []tg.ChatClass{},
		Date:    int(now.Unix()),
	}
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func entities(in []tg.MessageEntityClass) []Entity {
	if len(in) == 0 {
		return nil
	}
	out := make([]Entity, 0, len(in))
	for _, e := range in {
		name := strings.ToLower(strings.TrimPrefix(e.TypeName(), "messageEntity"))
		ent := Entity{Type: name, Offset: e.GetOffset(), Length: e.GetLength()}
		if u, ok := e.(*tg.MessageEntityTextURL); ok {
			ent.URL = u.URL
		}
		out = append(out, ent)
	}
	return out
}
