package telegram

// dclist.go owns what the saved session says about DCs: the DC it lives
// on (SessionDC, for whoami) and the DC addresses its server last
// announced (withSavedDCs), which a custom server's next run needs.

import (
	"encoding/json"
	"errors"

	"github.com/gotd/td/session"
	"github.com/gotd/td/tg"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// savedData is the gotd session data in the store, if it can be read.
func savedData(st *store.Store) (session.Data, bool) {
	if st == nil {
		return session.Data{}, false
	}
	b, err := st.LoadSession()
	if err != nil {
		return session.Data{}, false
	}
	var v struct {
		Version int
		Data    session.Data
	}
	if json.Unmarshal(b, &v) != nil || v.Version != 1 {
		return session.Data{}, false
	}
	return v.Data, true
}

// withSavedDCs adds to list every DC the saved session's server announced
// (its last help.getConfig, which gotd keeps in the session) that list
// lacks. gotd v0.162.0 restores only the DC id and auth key of a saved
// session and dials from Options.DCList until the first help.getConfig
// answers, which needs a connection to the session's DC first
// (shared/TELEGRAM.md, "Saved sessions and custom servers"): a custom
// server's config names only its first DC, so a session homed on another
// would wait for the connect timeout. Telegram's own lists (dcs.Prod,
// dcs.Test) have every DC and need none of this. A DC already in list
// keeps the configured address, so a server that moved is followed.
func withSavedDCs(list []tg.DCOption, st *store.Store) []tg.DCOption {
	d, ok := savedData(st)
	if !ok {
		return list
	}
	have := map[int]bool{}
	for _, o := range list {
		have[o.ID] = true
	}
	for _, o := range d.Config.DCOptions {
		if !have[o.ID] && !o.MediaOnly && !o.CDN {
			list = append(list, o)
		}
	}
	return list
}

// SessionDC is the DC the saved session lives on (its home DC after any
// migration at login), without connecting: ErrNotLoggedIn when there is no
// session.
func SessionDC(st *store.Store) (int, error) {
	if _, err := st.LoadSession(); errors.Is(err, store.ErrNotFound) {
		return 0, ErrNotLoggedIn
	} else if err != nil {
		return 0, err
	}
	d, ok := savedData(st)
	if !ok {
		return 0, ErrSessionDamaged
	}
	return d.DC, nil
}
