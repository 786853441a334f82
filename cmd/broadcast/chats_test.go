package main

// chats_test.go: groups, supergroups, channels and forum topics as
// recipients, end to end: the built binary against the sandbox, whose
// chats' inboxes are the proof.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// inboxOf is what NAME holds in the sandbox: a friend's inbox, or a chat's
// messages (NAME as broadcast names the chat, or its title), and with
// "/TOPIC" after a chat only that topic's (1: the General topic, where
// messages without a topic go).
func inboxOf(srv *sandbox.Server, name string) []sandbox.Message {
	base, topic, hasTopic := strings.Cut(name, "/")
	if strings.HasPrefix(name, "t.me/c/") {
		rest := strings.TrimPrefix(name, "t.me/c/")
		id, t, ok := strings.Cut(rest, "/")
		base, topic, hasTopic = "t.me/c/"+id, t, ok
	}
	c, ok := sandboxChat(srv, base)
	if !ok {
		return srv.Inbox(name)
	}
	in := srv.ChatInbox(c.Recipient)
	if !hasTopic {
		return in
	}
	want, err := strconv.Atoi(topic)
	if err != nil {
		return nil
	}
	if want == 1 {
		want = 0 // the General topic is the chat itself
	}
	var out []sandbox.Message
	for _, m := range in {
		if m.Topic == want {
			out = append(out, m)
		}
	}
	return out
}

// sandboxChat finds a sandbox chat by any name broadcast or a person gives it.
func sandboxChat(srv *sandbox.Server, name string) (sandbox.Chat, bool) {
	for _, c := range srv.Chats() {
		if name == c.Recipient || strings.EqualFold(name, c.Title) || name == strconv.FormatInt(c.PeerID(), 10) ||
			c.Username != "" && strings.EqualFold(strings.TrimPrefix(name, "@"), c.Username) {
			return c, true
		}
	}
	return sandbox.Chat{}, false
}

// userE2E is newE2E logged in as the sandbox's phone account: only a user
// may list its chats, which a private supergroup's t.me/c/ID needs.
func userE2E(t *testing.T, opts sandbox.Options) *e2e {
	t.Helper()
	e := startE2E(t, opts)
	if out, code := e.runStdin(strings.NewReader(sandbox.LoginCode+"\n"), "login", "--phone", "+15550000000"); code != 0 {
		t.Fatalf("login: exit %d: %s", code, out)
	}
	return e
}

// chatLineJSON is a --json report line with the fields chats add to the
// checks: the peer id and the error's detail.
type chatLineJSON struct {
	Recipient string `json:"recipient"`
	PeerID    int64  `json:"peer_id"`
	Status    string `json:"status"`
	Error     string `json:"error"`
	Detail    string `json:"detail"`
	MessageID int    `json:"message_id"`
}

func chatLines(t *testing.T, out string) map[string]chatLineJSON {
	t.Helper()
	lines := map[string]chatLineJSON{}
	for _, l := range strings.Split(out, "\n") {
		var j chatLineJSON
		if strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), &j) == nil && j.Recipient != "" {
			lines[j.Recipient] = j
		}
	}
	return lines
}

// one checks NAME (inboxOf's names) holds exactly one message, text.
func (e *e2e) one(name, text string) sandbox.Message {
	e.t.Helper()
	in := inboxOf(e.srv, name)
	if len(in) != 1 || in[0].Text != text {
		e.t.Fatalf("%s holds %+v, want exactly one %q", name, in, text)
	}
	return in[0]
}

// One broadcast to three friends, a basic group, a forum topic, a channel
// and a private supergroup by t.me/c/ID reaches each exactly once, in the
// right place, and a channel the account may not post in fails with its
// own words: exit 3. Run again, it sends nothing twice. A closed topic in
// another broadcast fails the same way while the rest goes out.
func TestChatsMixedBroadcast(t *testing.T) {
	e := userE2E(t, sandbox.Options{Users: 3})
	// t.me/c/ID is known only once the account listed its chats.
	out, code := e.run("send", "--to", "t.me/c/2004", "too early")
	if code != 2 || !strings.Contains(out, "not in the peer cache") || !strings.Contains(out, "broadcast chats") {
		t.Fatalf("an uncached private chat: exit %d:\n%s", code, out)
	}
	if out, code := e.run("chats"); code != 0 {
		t.Fatalf("chats: exit %d:\n%s", code, out)
	}
	to := "@friend1,@friend2,@friend3,-1001,@sandbox_forum/2,@sandbox_news,t.me/c/2004,@sandbox_blog"
	const text = "We moved the meeting to Friday"
	out, _, sum := e.sendJSON(3, "--to", to, text)
	if sum == nil || sum.Summary.Sent != 7 || sum.Summary.Failed != 1 {
		t.Fatalf("summary %+v:\n%s", sum, tail(out))
	}
	lines := chatLines(t, out)
	if l := lines["@sandbox_blog"]; l.Status != "failed" || l.Error != "CHAT_ADMIN_REQUIRED" || !strings.Contains(l.Detail, "admins") {
		t.Errorf("@sandbox_blog: %+v, want CHAT_ADMIN_REQUIRED in words", l)
	}
	// Group 1001 and friend1 (user 1001) are different peers.
	if lines["-1001"].PeerID != -1001 || lines["@friend1"].PeerID != 1001 || lines["t.me/c/2004"].PeerID != -1000000002004 {
		t.Errorf("peer ids: %+v", lines)
	}
	e.exactlyOnce(3, text)
	e.one("Family", text)
	if m := e.one("@sandbox_forum/2", text); m.Chat != sandbox.ChatSupergroup {
		t.Errorf("topic message %+v", m)
	}
	e.one("@sandbox_forum", text) // all of the forum: the one in topic 2
	e.one("@sandbox_news", text)
	e.one("t.me/c/2004", text)
	if in := inboxOf(e.srv, "@sandbox_blog"); len(in) != 0 {
		t.Errorf("@sandbox_blog got %+v", in)
	}
	// The same command again: the delivered are skipped, the refused
	// refused again; still one copy everywhere.
	out, _, sum = e.sendJSON(3, "--to", to, text)
	if sum.Summary.Skipped != 7 || sum.Summary.Failed != 1 {
		t.Fatalf("re-run summary %+v:\n%s", sum.Summary, tail(out))
	}
	e.exactlyOnce(3, text)
	for _, name := range []string{"Family", "@sandbox_forum/2", "@sandbox_news", "t.me/c/2004"} {
		e.one(name, text)
	}
	out, code = e.run("history", sum.Summary.BroadcastID)
	if code != 0 || !strings.Contains(out, "@sandbox_forum/2") || !strings.Contains(out, "t.me/c/2004") {
		t.Errorf("history: exit %d:\n%s", code, out)
	}

	const closed = "Archive this"
	out, _, sum = e.sendJSON(3, "--to", "@friend1,-1001,t.me/sandbox_forum/3,@sandbox_news", closed)
	if sum.Summary.Sent != 3 || sum.Summary.Failed != 1 {
		t.Fatalf("closed topic summary %+v:\n%s", sum.Summary, tail(out))
	}
	if l := chatLines(t, out)["t.me/sandbox_forum/3"]; l.Error != "TOPIC_CLOSED" || !strings.Contains(l.Detail, "topic is closed") {
		t.Errorf("closed topic: %+v", l)
	}
	if in := inboxOf(e.srv, "@sandbox_forum/3"); len(in) != 0 {
		t.Errorf("the closed topic got %+v", in)
	}
	if got := len(inboxOf(e.srv, "Family")); got != 2 {
		t.Errorf("Family has %d messages, want 2", got)
	}

	// Two places in one chat are two broadcasts: refused before sending.
	out, code = e.run("send", "--to", "@sandbox_forum/2,t.me/sandbox_forum", "both")
	if code != 2 || !strings.Contains(out, "one place per chat") {
		t.Errorf("two places in one chat: exit %d:\n%s", code, out)
	}
}

// `broadcast chats` lists every sandbox chat with the recipient to write,
// each forum topic under its forum, and caches them; a bot is told it
// cannot (Telegram lets only users list their dialogs).
func TestChatsListsTheSandboxChats(t *testing.T) {
	e := userE2E(t, sandbox.Options{Users: 2})
	out, code := e.run("chats")
	if code != 0 {
		t.Fatalf("chats: exit %d:\n%s", code, out)
	}
	for _, c := range e.srv.Chats() {
		if !strings.Contains(out, c.Recipient) || !strings.Contains(out, c.Title) {
			t.Errorf("%s (%s) is not listed:\n%s", c.Title, c.Recipient, out)
		}
	}
	for _, want := range []string{"@sandbox_forum/2", "Announcements", "@sandbox_forum/3", "Archive (closed)",
		"read-only", "messages go to t.me/c/2004"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Old plans") {
		t.Errorf("a deleted topic is listed:\n%s", out)
	}
	out, code = e.run("chats", "--json")
	if code != 0 {
		t.Fatalf("chats --json: exit %d", code)
	}
	kinds := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var c chatLine
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatalf("bad line %q: %v", l, err)
		}
		kinds[c.Recipient] = c.Kind
	}
	want := map[string]string{"-1001": "group", "@sandbox_forum": "supergroup", "@sandbox_news": "channel", "t.me/c/2004": "supergroup"}
	for r, k := range want {
		if kinds[r] != k {
			t.Errorf("%s is %q, want %q", r, kinds[r], k)
		}
	}
	if calls := e.srv.Calls("messages.getDialogs"); calls != 2 {
		t.Errorf("messages.getDialogs called %d times for two listings", calls)
	}
	out, code = e.run("resolve", "--json", "t.me/c/2004", "@sandbox_forum/2", "-1002")
	if code != 0 {
		t.Fatalf("resolve: exit %d:\n%s", code, out)
	}
	for _, want := range []string{`"kind":"supergroup"`, `"kind":"topic"`, `"topic":2`, `"title":"Book Club"`} {
		if !strings.Contains(out, want) {
			t.Errorf("resolve --json has no %s:\n%s", want, out)
		}
	}

	bot := newE2E(t, sandbox.Options{Users: 1})
	out, code = bot.run("chats")
	if code != 2 || !strings.Contains(out, "bots cannot list") {
		t.Errorf("a bot's chats: exit %d:\n%s", code, out)
	}
}

// Slow mode holds back its own chat's next message, not the broadcast: a
// three-part --split goes to friends at once, to a group a second a part
// (the per-chat pace), and to the slow lounge one part per slow mode
// interval, announced on stderr.
func TestSlowModeDelaysOnlyItsChat(t *testing.T) {
	const slow = 2 * time.Second
	e := newE2E(t, sandbox.Options{Users: 2, SlowMode: slow})
	var parts []string
	for i := range 3 {
		parts = append(parts, fmt.Sprintf("part %d ", i+1)+strings.Repeat("x", 3000))
	}
	text := strings.Join(parts, "\n\n")
	out, _, sum := e.sendJSON(0, "--split", "--to", "@friend1,@friend2,-1001,@sandbox_lounge", text)
	if sum.Summary.Sent != 4 {
		t.Fatalf("summary %+v:\n%s", sum.Summary, tail(out))
	}
	if !strings.Contains(out, "@sandbox_lounge is in slow mode") || strings.Contains(out, "flood wait") {
		t.Errorf("the slow mode wait is not announced as the lounge's:\n%s", out)
	}
	span := func(name string) (first, last time.Time, gaps []time.Duration) {
		in := inboxOf(e.srv, name)
		if len(in) != 3 {
			t.Fatalf("%s holds %d messages, want the 3 parts", name, len(in))
		}
		for i := 1; i < len(in); i++ {
			gaps = append(gaps, in[i].Date.Sub(in[i-1].Date))
		}
		return in[0].Date, in[2].Date, gaps
	}
	f1, f1last, _ := span("friend1")
	_, glast, ggaps := span("Family")
	_, llast, lgaps := span("@sandbox_lounge")
	if d := f1last.Sub(f1); d > time.Second {
		t.Errorf("friend1's parts took %s: slow mode held them", d)
	}
	for _, g := range ggaps {
		if g < 900*time.Millisecond || g > 1900*time.Millisecond {
			t.Errorf("the group's parts came %v apart, want about a second", ggaps)
		}
	}
	for _, g := range lgaps {
		if g < slow {
			t.Errorf("the lounge's parts came %v apart, under its %s slow mode", lgaps, slow)
		}
	}
	if !llast.After(glast) || !glast.After(f1last) {
		t.Errorf("friend1 done %v, group %v, lounge %v: want friends first, then the group, then the lounge", f1last, glast, llast)
	}
	t.Logf("last part: friend1 +%s, group +%s (gaps %v), lounge +%s (gaps %v)",
		f1last.Sub(f1).Round(time.Millisecond), glast.Sub(f1).Round(time.Millisecond), ggaps,
		llast.Sub(f1).Round(time.Millisecond), lgaps)
}

// A slow mode wait longer than --max-flood-wait fails that chat only.
func TestSlowModeLongerThanAllowedFailsItsChat(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 1, SlowMode: time.Hour})
	text := "part 1 " + strings.Repeat("x", 3000) + "\n\npart 2 " + strings.Repeat("y", 3000)
	out, _, sum := e.sendJSON(3, "--split", "--max-flood-wait", "10s", "--to", "@friend1,@sandbox_lounge", text)
	if sum.Summary.Sent != 1 || sum.Summary.Failed != 1 {
		t.Fatalf("summary %+v:\n%s", sum.Summary, tail(out))
	}
	if l := chatLines(t, out)["@sandbox_lounge"]; l.Error != "SLOWMODE_WAIT" || !strings.Contains(l.Detail, "slow mode") {
		t.Errorf("lounge: %+v", l)
	}
	if got := len(inboxOf(e.srv, "@sandbox_lounge")); got != 1 {
		t.Errorf("the lounge holds %d parts, want the first", got)
	}
}

// SIGKILL in the middle of a broadcast to friends and every kind of chat,
// then the same command: one copy in each place, the chats' included.
func TestKillAndRerunMixedKinds(t *testing.T) {
	const n = 60
	e := newE2E(t, sandbox.Options{Users: n, Latency: 5 * time.Millisecond})
	// A bot names a basic group by id, and the migrated -1002 leads to the
	// private supergroup; the rest are public.
	chats := []string{"-1001", "@sandbox_forum/2", "@sandbox_news", "-1002", "@sandbox_lounge"}
	to := friends(n) + "," + strings.Join(chats, ",")
	args := []string{"send", "--json", "--rate", "0", "--concurrency", "4", "--to", to, "kill me, chats"}
	for _, killAfter := range []int{3, 40} {
		signalAfterSent(t, e, syscall.SIGKILL, killAfter, args...)
	}
	out, code := e.run(args...)
	if code != 0 {
		t.Fatalf("rerun: exit %d:\n%s", code, tail(out))
	}
	results, sum := parseLines(t, out)
	if sum == nil || sum.Summary.Total != n+len(chats) || sum.Summary.Sent+sum.Summary.Skipped != n+len(chats) {
		t.Fatalf("rerun summary %+v", sum)
	}
	e.exactlyOnce(n, "kill me, chats")
	for _, name := range []string{"Family", "@sandbox_forum/2", "@sandbox_news", "t.me/c/2004", "@sandbox_lounge"} {
		e.one(name, "kill me, chats")
	}
	skipped := 0
	for _, r := range results {
		if r.Status == "skipped" {
			skipped++
		}
	}
	t.Logf("after two kills the rerun sent %d and skipped %d", sum.Summary.Sent, skipped)
}

// An album goes to a forum topic as one group of messages there; a chat
// that bans media refuses it in its own words.
func TestAlbumToTopic(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 1})
	dir := t.TempDir()
	photo := writeFile(t, dir, "car.jpg", append([]byte{0xff, 0xd8, 0xff, 0xe0}, make([]byte, 2000)...))
	doc := writeFile(t, dir, "papers.pdf", append([]byte("%PDF-1.4\n"), make([]byte, 3000)...))
	out, _, sum := e.sendJSON(3, "--attach", photo, "--attach", doc, "--to", "@friend1,@sandbox_forum/2,@sandbox_lounge", "the car and its papers")
	if sum.Summary.Sent != 2 || sum.Summary.Failed != 1 {
		t.Fatalf("summary %+v:\n%s", sum.Summary, tail(out))
	}
	in := inboxOf(e.srv, "@sandbox_forum/2")
	if len(in) != 2 || in[0].GroupedID == 0 || in[0].GroupedID != in[1].GroupedID || in[0].Text != "the car and its papers" ||
		in[0].Media == nil || in[0].Media.Kind != "photo" || in[1].Media == nil || in[1].Media.Kind != "document" {
		t.Fatalf("the topic holds %+v, want the album", in)
	}
	if got := len(inboxOf(e.srv, "@sandbox_forum/1")); got != 0 {
		t.Errorf("%d album messages went to General", got)
	}
	if l := chatLines(t, out)["@sandbox_lounge"]; l.Error != "CHAT_SEND_MEDIA_FORBIDDEN" || !strings.Contains(l.Detail, "does not allow media") {
		t.Errorf("lounge: %+v", l)
	}
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// {first_name} of a chat is its title; a basic group that became a
// supergroup is followed there.
func TestTemplateAndMigrationInChats(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 1})
	e.sendJSON(0, "--template", "--to", "@friend1,-1001,@sandbox_news,-1002", "Hello {first_name}!")
	e.one("friend1", "Hello Alice!")
	e.one("Family", "Hello Family!")
	e.one("@sandbox_news", "Hello Sandbox News!")
	e.one("t.me/c/2004", "Hello Book Club!") // -1002 became Book Club
	out, code := e.run("resolve", "-1002")
	if code != 2 || !strings.Contains(out, "broadcast resolve -- \"-1002\"") {
		t.Errorf("resolve -1002 without --: exit %d:\n%s", code, out)
	}
	out, code = e.run("resolve", "--", "-1002")
	if code != 0 || !strings.Contains(out, "→ supergroup -1000000002004 (Book Club)") {
		t.Errorf("resolve -- -1002: exit %d:\n%s", code, out)
	}
}

// Edit and retract reach chats: a channel's messages are edited and deleted
// by their own ids (channels.deleteMessages per channel), the rest by the
// account's (one messages.deleteMessages).
func TestEditAndRetractInChats(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 2})
	to := "@friend1,@friend2,-1001,@sandbox_news,@sandbox_forum/2"
	e.sendJSON(0, "--to", to, "Meeting at 8")
	out, code := e.run("edit", "--json", "Meeting at 9")
	if code != 0 || e.srv.Edited() != 5 {
		t.Fatalf("edit: exit %d, %d edited:\n%s", code, e.srv.Edited(), tail(out))
	}
	e.exactlyOnce(2, "Meeting at 9")
	for _, name := range []string{"Family", "@sandbox_news", "@sandbox_forum/2"} {
		e.one(name, "Meeting at 9")
	}
	out, code = e.run("retract", "--yes", "--json")
	if code != 0 {
		t.Fatalf("retract: exit %d:\n%s", code, tail(out))
	}
	if st := statuses(t, out); st["retracted"] != 5 {
		t.Errorf("retract outcomes %v:\n%s", st, out)
	}
	for _, name := range []string{"friend1", "friend2", "Family", "@sandbox_news", "@sandbox_forum"} {
		if in := inboxOf(e.srv, name); len(in) != 0 {
			t.Errorf("%s still holds %+v", name, in)
		}
	}
	if m, c := e.srv.Calls("messages.deleteMessages"), e.srv.Calls("channels.deleteMessages"); m != 1 || c != 2 {
		t.Errorf("messages.deleteMessages ×%d, channels.deleteMessages ×%d; want 1 and 2", m, c)
	}
	// Again: nothing to do, no call.
	if out, code := e.run("retract", "--yes"); code != 0 || e.srv.Calls("channels.deleteMessages") != 2 {
		t.Errorf("second retract: exit %d:\n%s", code, out)
	}
}

// Formatting and --schedule reach chats as they reach people: a topic's
// message keeps its entities, a channel's is held for its time.
func TestFormattingAndScheduleInChats(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 1})
	e.sendJSON(0, "--parse-mode", "markdown", "--to", "@sandbox_forum/2,-1001", "**Club night** is on")
	for _, name := range []string{"@sandbox_forum/2", "Family"} {
		m := e.one(name, "Club night is on")
		if len(m.Entities) != 1 || m.Entities[0].Type != "bold" || m.Entities[0].Length != 10 {
			t.Errorf("%s: entities %+v", name, m.Entities)
		}
	}
	out, _, _ := e.sendJSON(0, "--schedule", "+2h", "--to", "@sandbox_news,@sandbox_forum/2", "Later")
	for _, name := range []string{"@sandbox_news", "@sandbox_forum/2"} {
		var held *sandbox.Message
		for _, m := range inboxOf(e.srv, name) {
			if m.Text == "Later" {
				held = &m
			}
		}
		if held == nil || held.ScheduleDate == nil || held.ScheduleDate.Before(time.Now().Add(time.Hour)) {
			t.Errorf("%s: scheduled message %+v:\n%s", name, held, out)
		}
	}
}
