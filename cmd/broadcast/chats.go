package main

// chats.go is `broadcast chats` and what the other commands need to treat
// groups, supergroups, channels and forum topics as recipients: the
// recipient strings and kinds they show, the peer cache hint for a chat
// that is not cached, and the per-chat waits a send reports.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/recipient"
	"github.com/broadcast-cli/broadcast/internal/sandbox"
	"github.com/broadcast-cli/broadcast/internal/store"
	"github.com/broadcast-cli/broadcast/internal/telegram"
)

func chatsCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:  "chats",
		Usage: "list the groups and channels the account is in, with the recipient to write for each (users only)",
		Description: `Lists every group, supergroup and channel the logged-in account is in, and each
forum's topics, with what to give --to to send there: @name for a public chat,
t.me/c/ID for a private supergroup or channel, the id for a basic group, and
/TOPIC after a forum for one of its topics. It also caches them, so a private
chat can be sent to by its t.me/c/ID afterwards. Telegram lets only user
accounts list their chats: a bot sends to public chats by @name and to basic
groups by id.

Examples:
  broadcast chats
  broadcast chats --json | jq -r 'select(.read_only | not) | .recipient'
  broadcast send --to "$(broadcast chats --json | jq -r 'select(.title == "Book Club") | .recipient')" "See you Friday"`,
		Action: func(c *cli.Context) error {
			g, err := loadGlobals(c, ios)
			if err != nil {
				return err
			}
			if c.NArg() > 0 {
				return usagef("e.g. broadcast chats", "chats takes no arguments")
			}
			return runChats(c.Context, g)
		},
	}
}

// chatLine is one chat of `chats --json`.
type chatLine struct {
	Recipient  string      `json:"recipient"`
	Kind       string      `json:"kind"`
	Title      string      `json:"title"`
	PeerID     int64       `json:"peer_id"`
	ReadOnly   bool        `json:"read_only,omitempty"`
	MigratedTo string      `json:"migrated_to,omitempty"`
	Topics     []topicLine `json:"topics,omitempty"`
}

type topicLine struct {
	Recipient string `json:"recipient"`
	ID        int    `json:"id"`
	Title     string `json:"title"`
	Closed    bool   `json:"closed,omitempty"`
}

// runChats lists and caches the account's chats.
func runChats(ctx context.Context, g *globals) error {
	st, acct, client, err := g.loggedIn()
	if err != nil {
		return err
	}
	defer st.Close()
	if acct.Bot {
		return usagef("send to a public chat by @name, or to a basic group by its id (a negative number)",
			"bots cannot list their chats: Telegram lets only user accounts do that")
	}
	var chats []telegram.ChatInfo
	err = client.Run(ctx, func(ctx context.Context) error {
		chats, err = client.Chats(ctx)
		return err
	})
	if err != nil {
		return err
	}
	for _, ch := range chats {
		line := chatLine{Recipient: ch.Recipient, Kind: telegram.KindName(ch.Peer, 0), Title: ch.Peer.FirstName,
			PeerID: ch.Peer.ID, ReadOnly: ch.ReadOnly}
		if ch.MigratedTo != nil {
			line.MigratedTo = telegram.Recipient(*ch.MigratedTo, 0)
		}
		for _, t := range ch.Topics {
			line.Topics = append(line.Topics, topicLine{Recipient: t.Recipient, ID: t.ID, Title: t.Title, Closed: t.Closed})
		}
		if g.json {
			if err := writeJSON(g.io.out, line); err != nil {
				return err
			}
			continue
		}
		note := ""
		switch {
		case line.MigratedTo != "":
			note = " (became a supergroup: messages go to " + line.MigratedTo + ")"
		case line.ReadOnly:
			note = " (read-only: the account may not post)"
		}
		fmt.Fprintf(g.io.out, "%-28s %-10s %s%s\n", line.Recipient, line.Kind, line.Title, note)
		for _, t := range line.Topics {
			closed := ""
			if t.Closed {
				closed = " (closed)"
			}
			fmt.Fprintf(g.io.out, "  %-26s %-10s %s%s\n", t.Recipient, "topic", t.Title, closed)
		}
	}
	if !g.json && !g.quiet && len(chats) == 0 {
		fmt.Fprintln(g.io.err, "broadcast: the account is in no groups or channels")
	}
	return nil
}

// cachedEnough reports whether r can be sent to without the peer cache
// knowing it: anything but a numeric id, and a basic group's id (it needs
// no access hash, and Telegram tells its title by id).
func cachedEnough(r recipient.Recipient) bool {
	if r.Kind != recipient.ID {
		return true
	}
	id, err := strconv.ParseInt(r.Value, 10, 64)
	return err == nil && store.KindOfID(id) == store.KindChat
}

// uncachedID is the usage error for a numeric id the peer cache does not
// know, with the way to make it known.
func uncachedID(r recipient.Recipient) error {
	if strings.HasPrefix(r.Value, "-") {
		return usagef("run `broadcast chats` once (user accounts) so the account's groups and channels are cached",
			"recipient %s: this chat is not in the peer cache", r.Input)
	}
	return usagef("send to the @username or phone once, so its id is cached", "recipient %s: this numeric id is not in the peer cache", r.Input)
}

// messenger is the run's sender to Telegram, with the per-chat waits bound
// as flood waits are and reported on stderr.
func (r *sendRun) messenger(engineCtx context.Context) *telegram.Messenger {
	m := r.client.Messenger(r.msg)
	m.MaxChatWait = r.o.maxFloodWait
	m.OnChatWait = r.rep.chatWait
	m.Interrupt = engineCtx.Done()
	return m
}

// chatWait announces that one chat's next message waits: slow mode, or
// the per-chat pace. Unlike a flood wait nothing else pauses, and it says
// so.
func (r *reporter) chatWait(w telegram.ChatWait) {
	if r.g.quiet {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bar != nil {
		r.bar.clear()
		defer r.bar.draw()
	}
	if w.SlowMode {
		fmt.Fprintf(r.g.io.err, "broadcast: %s is in slow mode: its next message waits %s; the other recipients go on\n",
			w.Recipient, w.Wait.Round(time.Second))
		return
	}
	fmt.Fprintf(r.g.io.err, "broadcast: %s gets at most %d messages a minute: its next message waits %s; the other recipients go on\n",
		w.Recipient, telegram.ChatPerMinute, w.Wait.Round(time.Second))
}

// sandboxChats lists the sandbox's chats with their recipient strings, for
// `broadcast sandbox` to print next to the friends.
func sandboxChats(srv *sandbox.Server) string {
	var b strings.Builder
	b.WriteString("chats (every account is in them):\n")
	for _, c := range srv.Chats() {
		note := ""
		switch {
		case c.MigratedTo != 0:
			note = " (became the supergroup t.me/c/" + strconv.FormatInt(c.MigratedTo, 10) + ")"
		case c.Kind == sandbox.ChatChannel && !c.Admin:
			note = " (the account may not post)"
		case c.SlowMode > 0:
			note = " (slow mode: one message every " + c.SlowMode.String() + ")"
		}
		fmt.Fprintf(&b, "  %-22s %-10s %s%s\n", c.Recipient, c.Kind, c.Title, note)
		for _, t := range c.Topics {
			if t.Deleted || t.Recipient == c.Recipient {
				continue
			}
			closed := ""
			if t.Closed {
				closed = " (closed)"
			}
			fmt.Fprintf(&b, "    %-20s topic      %s%s\n", t.Recipient, t.Title, closed)
		}
	}
	return b.String()
}
