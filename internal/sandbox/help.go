package sandbox

// help.go owns what a client asks for around its connection rather than for
// its work: help.getConfig (which also announces the message limits),
// help.getNearestDc, updates.getState and account.updateStatus.

import (
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

// helpGetConfig answers help.getConfig
// (https://core.telegram.org/method/help.getConfig). gotd sends it inside
// initConnection on every connection and replaces its DC list with the
// options it returns (shared/TELEGRAM.md, "DC migration"), so the server
// must advertise its own address and DC; the limits are the sandbox's own
// MessageLengthMax and CaptionLengthMax. The other fields are plausible
// values this project does not read: a guess, not Telegram's.
func (s *Server) helpGetConfig(c *call) (bin.Encoder, error) {
	var r tg.HelpGetConfigRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	now := time.Now()
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

// helpGetNearestDC answers help.getNearestDc
// (https://core.telegram.org/method/help.getNearestDc) with the one DC there
// is. The country "XX" is a guess: the sandbox has no geography.
func (s *Server) helpGetNearestDC(c *call) (bin.Encoder, error) {
	return &tg.NearestDC{Country: "XX", ThisDC: s.opts.DC, NearestDC: s.opts.DC}, nil
}

// updatesGetState answers updates.getState
// (https://core.telegram.org/method/updates.getState). The sandbox keeps no
// update sequence, so pts and seq are a fixed guess; gotd calls it from its
// updates manager (telegram/updates), which this project does not use.
func (s *Server) updatesGetState(*call) (bin.Encoder, error) {
	return &tg.UpdatesState{Pts: 1, Qts: 0, Date: int(time.Now().Unix()), Seq: 1}, nil
}

// accountUpdateStatus answers account.updateStatus
// (https://core.telegram.org/method/account.updateStatus, a Bool) with true
// and keeps no online status: nothing in the sandbox shows it.
func (s *Server) accountUpdateStatus(*call) (bin.Encoder, error) { return &tg.BoolTrue{}, nil }
