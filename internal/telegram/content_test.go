package telegram

import (
	"errors"
	"strings"
	"testing"
)

func TestPreparePlain(t *testing.T) {
	for _, mode := range []string{"", ParsePlain} {
		m, err := Prepare(Content{Text: "hello <b>world</b> **x**", ParseMode: mode})
		if err != nil {
			t.Fatalf("mode %q: %v", mode, err)
		}
		if got := m.Text(); got != "hello <b>world</b> **x**" {
			t.Fatalf("mode %q: text %q", mode, got)
		}
	}
}

func TestPrepareEmpty(t *testing.T) {
	cases := []Content{
		{Text: ""},
		{Text: "   "},
		{Text: " \n\t "},
		{Text: "", ParseMode: ParseHTML},
		{Text: "<b>  </b>", ParseMode: ParseHTML},
		{Text: "  ", ParseMode: ParseMarkdown},
	}
	for _, c := range cases {
		_, err := Prepare(c)
		if !errors.Is(err, ErrEmptyMessage) {
			t.Errorf("Prepare(%q, %q) = %v, want ErrEmptyMessage", c.Text, c.ParseMode, err)
		}
	}
}

func TestPrepareLength(t *testing.T) {
	cases := []struct {
		name string
		text string
		n    int // UTF-16 units; 0 means OK
	}{
		{"4096 ascii", strings.Repeat("a", 4096), 0},
		{"4097 ascii", strings.Repeat("a", 4097), 4097},
		{"2048 emoji", strings.Repeat("😀", 2048), 0},
		{"2049 emoji", strings.Repeat("😀", 2049), 4098},
		// Cyrillic is one unit per letter although two bytes in UTF-8.
		{"4096 cyrillic", strings.Repeat("ж", 4096), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Prepare(Content{Text: c.text})
			if c.n == 0 {
				if err != nil {
					t.Fatalf("Prepare: %v", err)
				}
				if m.Text() != c.text {
					t.Fatal("text changed")
				}
				return
			}
			var tl *TooLongError
			if !errors.As(err, &tl) {
				t.Fatalf("Prepare = %v, want *TooLongError", err)
			}
			if tl.Length != c.n || tl.Limit != MessageLengthMax || tl.Caption {
				t.Fatalf("got %+v, want Length %d Limit %d", *tl, c.n, MessageLengthMax)
			}
		})
	}
	// The exact error from the brief.
	_, err := Prepare(Content{Text: strings.Repeat("a", 4097)})
	var tl *TooLongError
	if !errors.As(err, &tl) || *tl != (TooLongError{Length: 4097, Limit: 4096}) {
		t.Fatalf("got %v", err)
	}
}

func TestPrepareLengthAfterMarkup(t *testing.T) {
	// Markup does not count: 4096 letters inside <b> are within the limit.
	m, err := Prepare(Content{Text: "<b>" + strings.Repeat("a", 4096) + "</b>", ParseMode: ParseHTML})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if Length(m.Text()) != 4096 {
		t.Fatalf("length %d", Length(m.Text()))
	}
}

func TestPrepareHTML(t *testing.T) {
	m, err := Prepare(Content{Text: "<b>bold</b> text", ParseMode: ParseHTML})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if got := m.Text(); got != "bold text" {
		t.Fatalf("text %q, want %q", got, "bold text")
	}
}

func TestPrepareMarkdown(t *testing.T) {
	m, err := Prepare(Content{Text: "**bold**", ParseMode: ParseMarkdown})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if got := m.Text(); got != "bold" {
		t.Fatalf("text %q, want %q", got, "bold")
	}
}

func TestPrepareBadParseMode(t *testing.T) {
	for _, mode := range []string{"markdownv2", "HTML", "xml"} {
		_, err := Prepare(Content{Text: "hi", ParseMode: mode})
		if !errors.Is(err, ErrBadParseMode) {
			t.Errorf("mode %q: %v, want ErrBadParseMode", mode, err)
		}
	}
}

func TestLength(t *testing.T) {
	cases := map[string]int{"": 0, "abc": 3, "ж": 1, "😀": 2, "a😀b": 4, "👍🏽": 4}
	for s, want := range cases {
		if got := Length(s); got != want {
			t.Errorf("Length(%q) = %d, want %d", s, got, want)
		}
	}
}
