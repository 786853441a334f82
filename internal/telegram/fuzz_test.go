package telegram

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// FuzzPrepare: no markup, template or length makes Prepare or rendering
// panic, and whatever is accepted fits Telegram's limits part by part.
func FuzzPrepare(f *testing.F) {
	for _, seed := range []struct {
		text, mode string
		template   bool
	}{
		{"I bought a car!", ParsePlain, false},
		{"<b>bold</b> <i>it</i> <a href=\"https://x.org\">l</a>", ParseHTML, false},
		{"<b>unclosed", ParseHTML, false},
		{"<pre><code class=\"language-go\">x</code></pre>", ParseHTML, false},
		{"**bold** _it_ `code` [l](https://x.org)", ParseMarkdown, false},
		{"a **b", ParseMarkdown, false},
		{"Hi {first_name} {last_name} @{username}", ParseHTML, true},
		{"Hi {first_name}", ParseMarkdown, true},
		{"{nope}", ParsePlain, true},
		{strings.Repeat("word ", 2000), ParsePlain, false},
		{"&amp; &lt;b&gt; &#x1F600;", ParseHTML, false},
		{strings.Repeat("😀", 3000), ParsePlain, false},
		{"a" + strings.Repeat("👍🏽", 1500), ParsePlain, false},
		{"**Dear {first_name}**, hi " + strings.Repeat("😀 ", 1500), ParseMarkdown, true},
		{"<b>" + strings.Repeat("x", 5000) + "</b>", ParseHTML, false},
	} {
		f.Add(seed.text, seed.mode, seed.template, true, "O'Brien <b>", "x_y*z")
	}
	f.Fuzz(func(t *testing.T, text, mode string, template, split bool, first, user string) {
		if !utf8.ValidString(text) {
			return
		}
		m, err := Prepare(Content{Text: text, ParseMode: mode, Template: template, Split: split})
		if err != nil {
			return
		}
		r, err := m.forPeer(store.Peer{FirstName: first, Username: user})
		if err != nil {
			return
		}
		// Split never cuts a character in two (names from Telegram are
		// valid UTF-8; the fuzzer's may not be).
		validNames := utf8.ValidString(first) && utf8.ValidString(user)
		var joined strings.Builder
		for _, p := range r.parts {
			if validNames && strings.ContainsRune(p.text, utf8.RuneError) && !strings.ContainsRune(text, utf8.RuneError) {
				t.Fatalf("a part has a broken character")
			}
			if n := Length(p.text); n > MessageLengthMax {
				t.Fatalf("a part of %d units was accepted", n)
			}
			for _, e := range p.entities {
				if e.GetOffset() < 0 || e.GetOffset()+e.GetLength() > Length(p.text) {
					t.Fatalf("entity %v outside its part of %d units", e, Length(p.text))
				}
			}
			joined.WriteString(p.text)
		}
		if len(r.parts) > 1 && Length(joined.String()) <= MessageLengthMax {
			t.Fatalf("split a text that fits into %d parts", len(r.parts))
		}
		if (mode == "" || mode == ParsePlain) && !template && joined.String() != text {
			t.Fatalf("the parts do not concatenate back to the text")
		}
	})
}

// FuzzFill: a name can never inject markup into a template, whatever the
// template and the name hold: the filled message has the template's text
// with the names in place, and only the template's entities.
func FuzzFill(f *testing.F) {
	f.Add("Hi {first_name}!", "<b>Bob</b>", ParseHTML)
	f.Add("Hi {first_name}!", "**Bob**", ParseMarkdown)
	f.Add("{username}{last_name}", "a_b", ParseMarkdown)
	f.Add("**Dear {first_name}**, hi", "Alice", ParseMarkdown)
	f.Add("_{first_name}_ `{username}` [x](https://t.me/{username})", "a_b*c", ParseMarkdown)
	f.Add(`<a href="https://t.me/{username}">{first_name}</a>`, "\"&amp;", ParseHTML)
	f.Add("{first_name} \ue000 &#xE000;", "x", ParseHTML)
	f.Fuzz(func(t *testing.T, tmpl, name, mode string) {
		if mode != ParseHTML && mode != ParseMarkdown && mode != ParsePlain {
			return
		}
		if !utf8.ValidString(tmpl) || !utf8.ValidString(name) {
			return
		}
		base, err := Prepare(Content{Text: tmpl, ParseMode: mode, Template: true})
		if err != nil {
			return
		}
		r, err := base.forPeer(store.Peer{FirstName: name, LastName: name, Username: name})
		if err != nil {
			return
		}
		var want strings.Builder
		for _, c := range base.tmpl.text {
			if _, ok := base.tmpl.slots[c]; ok {
				want.WriteString(name)
			} else {
				want.WriteRune(c)
			}
		}
		if got := r.parts[0].text; got != want.String() {
			t.Fatalf("filled %q with %q: got %q, want %q", tmpl, name, got, want.String())
		}
		kinds := map[string]int{}
		for _, e := range base.tmpl.ents {
			kinds[e.TypeName()]++
		}
		for _, e := range r.parts[0].entities {
			if kinds[e.TypeName()]--; kinds[e.TypeName()] < 0 {
				t.Fatalf("name %q injected %s into %q", name, e.TypeName(), tmpl)
			}
			if e.GetLength() <= 0 || e.GetOffset() < 0 || e.GetOffset()+e.GetLength() > Length(r.parts[0].text) {
				t.Fatalf("entity %v outside the filled text %q", e, r.parts[0].text)
			}
		}
	})
}
