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
		var joined strings.Builder
		for _, p := range r.parts {
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
	})
}

// FuzzFill: a name can never inject markup into a template.
func FuzzFill(f *testing.F) {
	f.Add("Hi {first_name}!", "<b>Bob</b>", ParseHTML)
	f.Add("Hi {first_name}!", "**Bob**", ParseMarkdown)
	f.Add("{username}{last_name}", "a_b", ParseMarkdown)
	f.Fuzz(func(t *testing.T, tmpl, name, mode string) {
		if mode != ParseHTML && mode != ParseMarkdown {
			return
		}
		if !utf8.ValidString(tmpl) || !utf8.ValidString(name) || strings.ContainsAny(tmpl, "<>*_`[]()~\\&") {
			return
		}
		base, err := Prepare(Content{Text: tmpl, ParseMode: mode, Template: true})
		if err != nil {
			return
		}
		empty, err := base.forPeer(store.Peer{})
		if err != nil {
			return
		}
		r, err := base.forPeer(store.Peer{FirstName: name})
		if err != nil {
			return
		}
		// The template has no markup, so neither may the filled message.
		if len(empty.parts[0].entities) == 0 {
			for _, p := range r.parts {
				for _, e := range p.entities {
					switch e.TypeName() {
					case "messageEntityBold", "messageEntityItalic", "messageEntityCode", "messageEntityPre",
						"messageEntityTextUrl", "messageEntityStrike", "messageEntityUnderline", "messageEntitySpoiler":
						t.Fatalf("name %q injected %s into %q", name, e.TypeName(), tmpl)
					}
				}
			}
		}
	})
}
