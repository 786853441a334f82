package sandbox

// help.go owns what a client asks for around its connection rather than for
// its work: help.getConfig (which also announces the message limits),
// help.getNearestDc, updates.getState and account.updateStatus.

import (
	"math"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

// helpGetConfig answers help.getConfig
// (https://core.telegram.org/method/help.getConfig). gotd sends it inside
// initConnection on every connection and replaces its DC list with the
// options it returns (shared/TELEGRAM.md, "DC migration"), so the server
// must advertise every DC's address (dcOptions, cluster.go) and, as
// this_dc, the DC the request reached; the length limits are the
// sandbox's own MessageLengthMax and CaptionLengthMax, and edit_time_limit
// and revoke_pm_time_limit are the caller's (limitsFor), which
// messages.editMessage and messages.deleteMessages enforce. gotd calls it
// before any login too: a key that is not logged in gets a user's limits.
// The other fields are plausible values this project does not read: a
// guess, not Telegram's.
func (s *Server) helpGetConfig(c *call) (bin.Encoder, error) {
	var r tg.HelpGetConfigRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	now := time.Now()
	lim := limitsFor(s.opts, c.self)
	return &tg.Config{
		Date:                    int(now.Unix()),
		Expires:                 int(now.Add(time.Hour).Unix()),
		ThisDC:                  c.req.DC,
		DCOptions:               s.dcOptions(),
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
		EditTimeLimit:           lim.editSecs,
		RevokeTimeLimit:         172800,
		RevokePmTimeLimit:       lim.revokeSecs,
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

// helpGetNearestDC answers help.getNearestDc
// (https://core.telegram.org/method/help.getNearestDc) with the DC asked as
// the nearest. The country "XX" is a guess: the sandbox has no geography.
func (s *Server) helpGetNearestDC(c *call) (bin.Encoder, error) {
	return &tg.NearestDC{Country: "XX", ThisDC: c.req.DC, NearestDC: c.req.DC}, nil
}

// updatesGetState answers updates.getState
// (https://core.telegram.org/method/updates.getState): pts is the account's
// count of message-box events (account.pts), at least 1; seq is a fixed
// guess, as the sandbox sends no seq-numbered updates. gotd calls it from
// its updates manager (telegram/updates), which this project does not use.
func (s *Server) updatesGetState(c *call) (bin.Encoder, error) {
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.state(c.self, time.Now())
	return &st, nil
}

// state is the caller's updates.state, as updates.getState and
// messages.getPeerDialogs carry it. Call with w.mu held.
func (w *world) state(self *User, now time.Time) tg.UpdatesState {
	return tg.UpdatesState{Pts: max(1, w.account(self.ID).pts), Qts: 0, Date: int(now.Unix()), Seq: 1}
}

// accountUpdateStatus answers account.updateStatus
// (https://core.telegram.org/method/account.updateStatus, a Bool) with true
// and keeps no online status: nothing in the sandbox shows it.
func (s *Server) accountUpdateStatus(*call) (bin.Encoder, error) { return &tg.BoolTrue{}, nil }

// limits are the message time limits one caller is told about in
// help.getConfig and held to by the methods, in whole seconds as the config
// carries them.
type limits struct {
	editSecs   int // edit_time_limit
	revokeSecs int // revoke_pm_time_limit
}

// The defaults are TDLib's, which it applies when the server has not said
// otherwise (td/telegram/MessagesManager.cpp: can_edit_message has a
// 2 * 86400 edit limit that does not apply to a bot's own messages;
// can_revoke_message has a revoke limit of 2 * 86400 for bots and
// std::numeric_limits<int32>::max() for users), and shared/TELEGRAM.md
// ("After sending"). noLimit, 2^31-1 seconds, is how the sandbox says
// "none", as TDLib's int32 maximum does; that the live server sends exactly
// this number to users (and to bots for edit_time_limit) is a guess.
const (
	noLimit          = math.MaxInt32
	defaultEditSecs  = 48 * 3600 // users
	defaultRevokeBot = 48 * 3600 // bots
)

// limitsFor is what u (nil: a key not logged in, treated as a user) is
// allowed: Options.EditLimit and Options.RevokeLimit for everyone when set,
// else Telegram's defaults for a user or a bot.
func limitsFor(o Options, u *User) limits {
	l := limits{editSecs: defaultEditSecs, revokeSecs: noLimit}
	if u != nil && u.Bot {
		l = limits{editSecs: noLimit, revokeSecs: defaultRevokeBot}
	}
	if o.EditLimit > 0 {
		l.editSecs = ceilSeconds(o.EditLimit)
	}
	if o.RevokeLimit > 0 {
		l.revokeSecs = ceilSeconds(o.RevokeLimit)
	}
	return l
}

// ceilSeconds is d in whole seconds, rounded up so a short limit is not
// announced as 0, and capped at noLimit.
func ceilSeconds(d time.Duration) int {
	s := (d + time.Second - 1) / time.Second
	if s > noLimit {
		return noLimit
	}
	return int(s)
}

func (l limits) edit() time.Duration   { return time.Duration(l.editSecs) * time.Second }
func (l limits) revoke() time.Duration { return time.Duration(l.revokeSecs) * time.Second }
