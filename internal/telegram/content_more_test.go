package telegram

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gotd/td/tg"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// checkParts asserts what every split must give: parts within the limit,
// each valid text (no half of a surrogate pair), entities inside their part,
// and the parts concatenating back to the text exactly.
func checkParts(t *testing.T, r *rendered, text string, limit int) {
	t.Helper()
	var joined strings.Builder
	for i, p := range r.parts {
		if n := Length(p.text); n > limit || n == 0 {
			t.Fatalf("part %d is %d units long (limit %d)", i, n, limit)
		}
		if strings.ContainsRune(p.text, utf8.RuneError) && !strings.ContainsRune(text, utf8.RuneError) {
			t.Fatalf("part %d has a broken character", i)
		}
		for _, e := range p.entities {
			if e.GetLength() <= 0 || e.GetOffset() < 0 || e.GetOffset()+e.GetLength() > Length(p.text) {
				t.Fatalf("part %d: entity %v outside its %d units", i, e, Length(p.text))
			}
		}
		joined.WriteString(p.text)
	}
	if joined.String() != text {
		t.Fatalf("the parts do not concatenate back to the text")
	}
}

func TestSplitEmojiOnly(t *testing.T) {
	text := strings.Repeat("😀", 3000) // 6000 UTF-16 units, no entities
	m, err := Prepare(Content{Text: text, Split: true})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	r, _ := m.forPeer(store.Peer{})
	checkParts(t, r, text, MessageLengthMax)
	if len(r.parts) != 2 || Length(r.parts[0].text) != MessageLengthMax {
		t.Fatalf("got %d parts, the first %d units; want 2, the first full", len(r.parts), Length(r.parts[0].text))
	}
	if m.Parts() != 2 {
		t.Fatalf("Parts() = %d", m.Parts())
	}
}

func TestSplitNeverInsideSurrogatePair(t *testing.T) {
	// With one leading ASCII letter every pair straddles an even offset, so
	// the limit itself (4096) falls inside a pair and the cut must go back one.
	for _, text := range []string{
		"a" + strings.Repeat("😀", 3000),
		strings.Repeat("😀", 2047) + "ab" + strings.Repeat("😀", 2000),
		strings.Repeat("ж😀", 3000),
		strings.Repeat("😀", 4000) + " " + strings.Repeat("😀", 10),
	} {
		m, err := Prepare(Content{Text: text, Split: true})
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		r, _ := m.forPeer(store.Peer{})
		checkParts(t, r, text, MessageLengthMax)
	}
}

func TestSplitEmojiInsideEntity(t *testing.T) {
	// Bold emoji runs separated by spaces: cuts go between the runs.
	run := "<b>" + strings.Repeat("😀", 100) + "</b> "
	src := strings.Repeat(run, 50)
	m, err := Prepare(Content{Text: src, ParseMode: ParseHTML, Split: true})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	r, _ := m.forPeer(store.Peer{})
	text := strings.Repeat(strings.Repeat("😀", 100)+" ", 50)
	checkParts(t, r, text, MessageLengthMax)
	n := 0
	for _, p := range r.parts {
		n += len(p.entities)
	}
	if n != 50 {
		t.Fatalf("%d bold entities after the split, want 50", n)
	}
}

func TestCutBoundaries(t *testing.T) {
	never := func(int) bool { return false }
	u := utf16.Encode([]rune("a😀😀😀")) // a, hi, lo, hi, lo, hi, lo
	for max, want := range map[int]int{1: 1, 2: 1, 3: 3, 4: 3, 5: 5, 6: 5, 7: 7} {
		if got := cut(u, 0, max, never); got != want {
			t.Errorf("cut(max %d) = %d, want %d", max, got, want)
		}
	}
	// A lone surrogate (not a pair) is not kept whole by accident either way:
	// cutting next to it is allowed.
	lone := []uint16{'a', 0xD800, 'b'}
	if got := cut(lone, 0, 2, never); got != 2 {
		t.Errorf("cut next to a lone high surrogate = %d, want 2", got)
	}
}

func TestSplitPrefersWholeGraphemes(t *testing.T) {
	// A family emoji is 8 units joined by ZWJs; with no separator anywhere
	// the cut falls back to a boundary between characters, and not inside a
	// ZWJ sequence while another boundary is near.
	// The leading letter puts the limit itself inside a family.
	family := "👨‍👩‍👧"
	text := "a" + strings.Repeat(family, 1000)
	m, err := Prepare(Content{Text: text, Split: true})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	r, _ := m.forPeer(store.Peer{})
	checkParts(t, r, text, MessageLengthMax)
	if len(r.parts) != 2 {
		t.Fatalf("%d parts", len(r.parts))
	}
	for i, p := range r.parts {
		if strings.ReplaceAll(strings.TrimPrefix(p.text, "a"), family, "") != "" {
			t.Fatalf("part %d cuts a ZWJ sequence", i)
		}
	}
	// Skin tones and combining marks stay with their base as well.
	for _, unit := range []string{"👍🏽", "e\u0301", "❤️"} {
		text := "a" + strings.Repeat(unit, 5000/Length(unit)+1)
		m, err := Prepare(Content{Text: text, Split: true})
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		r, _ := m.forPeer(store.Peer{})
		checkParts(t, r, text, MessageLengthMax)
		for i, p := range r.parts {
			if strings.ReplaceAll(strings.TrimPrefix(p.text, "a"), unit, "") != "" {
				t.Fatalf("%q: part %d cuts a character in two", unit, i)
			}
		}
	}
}

func TestSplitEntityTooLong(t *testing.T) {
	src := "intro\n\n<b>" + strings.Repeat("a", 5000) + "</b>"
	_, err := Prepare(Content{Text: src, ParseMode: ParseHTML, Split: true})
	var el *EntityTooLongError
	if !errors.As(err, &el) {
		t.Fatalf("Prepare = %v (%T), want *EntityTooLongError", err, err)
	}
	if el.Length != 5000 || el.Limit != MessageLengthMax || el.Entity != "bold" {
		t.Fatalf("got %+v", *el)
	}
	for _, want := range []string{"5000", "4096", "bold"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not mention %s", err, want)
		}
	}
	// Not the "add --split" error: --split is already on.
	var tl *TooLongError
	if errors.As(err, &tl) {
		t.Fatalf("an entity too long is reported as *TooLongError")
	}
}

func TestSplitNestedEntitiesTooLong(t *testing.T) {
	// Nested entities are one run: the outer one is reported, with the
	// run's place and length.
	src := "hello\n\n<i>" + strings.Repeat("a", 3000) + "<b>" + strings.Repeat("b", 3000) + "</b></i>"
	_, err := Prepare(Content{Text: src, ParseMode: ParseHTML, Split: true})
	var el *EntityTooLongError
	if !errors.As(err, &el) {
		t.Fatalf("Prepare = %v, want *EntityTooLongError", err)
	}
	if *el != (EntityTooLongError{Entity: "italic", Offset: 7, Length: 6000, Limit: MessageLengthMax}) {
		t.Fatalf("got %+v", *el)
	}
	// A link, in words.
	src = `<a href="https://x.org">` + strings.Repeat("a", 5000) + "</a>"
	_, err = Prepare(Content{Text: src, ParseMode: ParseHTML, Split: true})
	if !errors.As(err, &el) || el.Entity != "link" {
		t.Fatalf("Prepare = %v, want a link *EntityTooLongError", err)
	}
}

func TestPrepareTemplateMarkdown(t *testing.T) {
	m, err := Prepare(Content{Text: "**Dear {first_name}**, hi", ParseMode: ParseMarkdown, Template: true})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	r, err := m.forPeer(store.Peer{FirstName: "Alice"})
	if err != nil {
		t.Fatalf("forPeer: %v", err)
	}
	if len(r.parts) != 1 || r.parts[0].text != "Dear Alice, hi" {
		t.Fatalf("parts %+v", r.parts)
	}
	wantEntities(t, r.parts[0].entities, &tg.MessageEntityBold{Offset: 0, Length: 10})
}

func wantEntities(t *testing.T, got []tg.MessageEntityClass, want ...tg.MessageEntityClass) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("entities %v, want %v", got, want)
	}
}

func TestPrepareTemplateMarkup(t *testing.T) {
	alice := store.Peer{FirstName: "Alice", Username: "alice_w"}
	cases := []struct {
		name, mode, tmpl string
		peer             store.Peer
		text             string
		ents             []tg.MessageEntityClass
	}{
		{"html bold", ParseHTML, "<b>Dear {first_name}</b>, hi", alice, "Dear Alice, hi",
			[]tg.MessageEntityClass{&tg.MessageEntityBold{Length: 10}}},
		{"md empty last name", ParseMarkdown, "**{first_name} {last_name}** ok", alice, "Alice  ok",
			[]tg.MessageEntityClass{&tg.MessageEntityBold{Length: 6}}},
		{"md italic placeholder only", ParseMarkdown, "_{first_name}_!", alice, "Alice!",
			[]tg.MessageEntityClass{&tg.MessageEntityItalic{Length: 5}}},
		{"md bold after a word", ParseMarkdown, "Hi **{first_name}**.", alice, "Hi Alice.",
			[]tg.MessageEntityClass{&tg.MessageEntityBold{Offset: 3, Length: 5}}},
		{"md name with markup is literal", ParseMarkdown, "**Dear {first_name}**", store.Peer{FirstName: "*Al_ice* [x](y)"},
			"Dear *Al_ice* [x](y)", []tg.MessageEntityClass{&tg.MessageEntityBold{Length: 20}}},
		{"html name with markup is literal", ParseHTML, "<i>{first_name}</i>", store.Peer{FirstName: "<b>Bob</b> &amp;"},
			"<b>Bob</b> &amp;", []tg.MessageEntityClass{&tg.MessageEntityItalic{Length: 16}}},
		// In a code span markdown escapes are literal: the name must not
		// arrive with backslashes.
		{"md code span", ParseMarkdown, "user `{username}`", alice, "user alice_w",
			[]tg.MessageEntityClass{&tg.MessageEntityCode{Offset: 5, Length: 7}}},
		{"md link", ParseMarkdown, "[profile](https://t.me/{username}) of {first_name}", alice, "profile of Alice",
			[]tg.MessageEntityClass{&tg.MessageEntityTextURL{Length: 7, URL: "https://t.me/alice_w"}}},
		{"html link", ParseHTML, `<a href="https://t.me/{username}">{first_name}</a>`, alice, "Alice",
			[]tg.MessageEntityClass{&tg.MessageEntityTextURL{Length: 5, URL: "https://t.me/alice_w"}}},
		{"emoji name shifts later entities", ParseHTML, "{first_name} <b>x</b>", store.Peer{FirstName: "😀😀"}, "😀😀 x",
			[]tg.MessageEntityClass{&tg.MessageEntityBold{Offset: 5, Length: 1}}},
		{"empty value drops an empty entity", ParseMarkdown, "**{last_name}**x", alice, "x", nil},
		{"plain", ParsePlain, "Hi {first_name} **{username}**", alice, "Hi Alice **alice_w**", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Prepare(Content{Text: c.tmpl, ParseMode: c.mode, Template: true})
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			r, err := m.forPeer(c.peer)
			if err != nil {
				t.Fatalf("forPeer: %v", err)
			}
			if len(r.parts) != 1 || r.parts[0].text != c.text {
				t.Fatalf("parts %+v, want %q", r.parts, c.text)
			}
			wantEntities(t, r.parts[0].entities, c.ents...)
		})
	}
}

func TestPrepareTemplateMarkupErrors(t *testing.T) {
	// Real markup errors are still found, at their place in the template
	// as the user wrote it.
	_, err := Prepare(Content{Text: "{first_name} {last_name} **x", ParseMode: ParseMarkdown, Template: true})
	var se *SyntaxError
	if !errors.As(err, &se) || se.Pos != (Position{Line: 1, Col: 26}) {
		t.Fatalf("Prepare = %v, want a syntax error at column 26", err)
	}
	_, err = Prepare(Content{Text: "{first_name} <b>x", ParseMode: ParseHTML, Template: true})
	if !errors.As(err, &se) || se.Pos != (Position{Line: 1, Col: 14}) {
		t.Fatalf("Prepare = %v, want a syntax error at column 14", err)
	}
	_, err = Prepare(Content{Text: "Hi {nickname}", Template: true})
	var te *TemplateError
	if !errors.As(err, &te) || te.Placeholder != "nickname" {
		t.Fatalf("Prepare = %v, want a TemplateError", err)
	}
}

func TestPrepareTemplateLength(t *testing.T) {
	// The fixed part is checked at Prepare, each filled text when sent.
	_, err := Prepare(Content{Text: strings.Repeat("a", 4097) + "{first_name}", Template: true})
	var tl *TooLongError
	if !errors.As(err, &tl) || tl.Length != 4097 {
		t.Fatalf("Prepare = %v, want *TooLongError of 4097", err)
	}
	m, err := Prepare(Content{Text: strings.Repeat("a", 4090) + "{first_name}", Template: true})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if _, err := m.forPeer(store.Peer{FirstName: "Bob"}); err != nil {
		t.Fatalf("forPeer(Bob): %v", err)
	}
	_, err = m.forPeer(store.Peer{FirstName: "Maximilian"})
	if !errors.As(err, &tl) || tl.Length != 4100 {
		t.Fatalf("forPeer(Maximilian) = %v, want *TooLongError of 4100", err)
	}
}

func TestFill(t *testing.T) {
	m, err := Prepare(Content{Text: "**Dear {first_name} {last_name}** (@{username})", ParseMode: ParseMarkdown, Template: true})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if got := m.Text(); got != "Dear {first_name} {last_name} (@{username})" {
		t.Fatalf("Text() = %q", got)
	}
	parts, err := m.Fill("Alice", "Smith", "alice")
	if err != nil {
		t.Fatalf("Fill: %v", err)
	}
	if len(parts) != 1 || parts[0] != "Dear Alice Smith (@alice)" {
		t.Fatalf("Fill = %q", parts)
	}
	// Without a template Fill is the message as everyone gets it.
	m, err = Prepare(Content{Text: "<b>hi</b> {first_name}", ParseMode: ParseHTML})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if parts, err := m.Fill("Alice", "", ""); err != nil || len(parts) != 1 || parts[0] != "hi {first_name}" {
		t.Fatalf("Fill = %q, %v", parts, err)
	}
	// A filled text over the limit is that recipient's error.
	m, err = Prepare(Content{Text: strings.Repeat("a", 4090) + "{first_name}", Template: true})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	var tl *TooLongError
	if _, err := m.Fill("Maximilian", "", ""); !errors.As(err, &tl) {
		t.Fatalf("Fill = %v, want *TooLongError", err)
	}
}

func TestPrepareTemplateSplit(t *testing.T) {
	tmpl := "**{first_name}**\n\n" + strings.Repeat("😀", 2046)
	m, err := Prepare(Content{Text: tmpl, ParseMode: ParseMarkdown, Template: true, Split: true})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	r, err := m.forPeer(store.Peer{FirstName: "Alice"})
	if err != nil {
		t.Fatalf("forPeer: %v", err)
	}
	checkParts(t, r, "Alice\n\n"+strings.Repeat("😀", 2046), MessageLengthMax)
	if len(r.parts) != 2 || r.parts[0].text != "Alice\n\n" {
		t.Fatalf("parts: %d, first %q", len(r.parts), r.parts[0].text)
	}
	wantEntities(t, r.parts[0].entities, &tg.MessageEntityBold{Length: 5})
}

func TestCaptionTooLong(t *testing.T) {
	dir := t.TempDir()
	f := dir + "/a.txt"
	if err := os.WriteFile(f, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Prepare(Content{Text: strings.Repeat("a", 1025), Attachments: []string{f}})
	var tl *TooLongError
	if !errors.As(err, &tl) || *tl != (TooLongError{Length: 1025, Limit: CaptionLengthMax, Caption: true}) {
		t.Fatalf("Prepare = %v, want a caption *TooLongError", err)
	}
}
