package telegram

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/gotd/td/telegram/message/entity"
	"github.com/gotd/td/telegram/message/html"
	"github.com/gotd/td/telegram/message/markdown"
	"github.com/gotd/td/tg"
)

// Parse modes.
const (
	ParsePlain    = "plain"
	ParseMarkdown = "markdown"
	ParseHTML     = "html"
)

// Telegram's length limits in UTF-16 code units, the unit Telegram counts
// in. The server announces its own in help.getConfig; these are the values
// Telegram uses for accounts without Premium.
const (
	MessageLengthMax = 4096
	CaptionLengthMax = 1024
)

// Content is what the user asked to send, before markup is parsed.
type Content struct {
	Text      string
	ParseMode string
	Silent    bool
	NoPreview bool
	Schedule  time.Time
}

// Message is prepared content: markup parsed into text and entities, length
// checked. It is immutable and shared by every send of a broadcast.
type Message struct {
	Content  Content
	text     string
	entities []tg.MessageEntityClass
}

// Input errors: the caller reports them as usage errors, before any send.
var (
	ErrEmptyMessage = errors.New("the message is empty")
	ErrBadParseMode = errors.New("unknown parse mode")
)

// TooLongError: the text is over Telegram's limit, counted as Telegram does.
type TooLongError struct {
	Length, Limit int
	Caption       bool
}

func (e *TooLongError) Error() string {
	what := "message"
	if e.Caption {
		what = "caption"
	}
	return fmt.Sprintf("the %s is %d characters long after formatting; Telegram allows %d", what, e.Length, e.Limit)
}

// MarkupError: the markup could not be parsed.
type MarkupError struct {
	Mode string
	Err  error
}

func (e *MarkupError) Error() string { return fmt.Sprintf("%s markup: %v", e.Mode, e.Err) }
func (e *MarkupError) Unwrap() error { return e.Err }

// Prepare parses c's markup with gotd's html and markdown packages and checks
// the result against Telegram's limits.
func Prepare(c Content) (*Message, error) {
	if c.ParseMode == "" {
		c.ParseMode = ParsePlain
	}
	var b entity.Builder
	switch c.ParseMode {
	case ParsePlain:
		b.Plain(c.Text)
	case ParseHTML:
		if err := html.HTML(strings.NewReader(c.Text), &b, html.Options{}); err != nil {
			return nil, &MarkupError{Mode: c.ParseMode, Err: err}
		}
	case ParseMarkdown:
		if err := markdown.Markdown(strings.NewReader(c.Text), &b, markdown.Options{}); err != nil {
			return nil, &MarkupError{Mode: c.ParseMode, Err: err}
		}
	default:
		return nil, fmt.Errorf("%w %q (use plain, markdown or html)", ErrBadParseMode, c.ParseMode)
	}
	text, ents := b.Complete()
	if strings.TrimSpace(text) == "" {
		return nil, ErrEmptyMessage
	}
	if n := Length(text); n > MessageLengthMax {
		return nil, &TooLongError{Length: n, Limit: MessageLengthMax}
	}
	return &Message{Content: c, text: text, entities: ents}, nil
}

// Text is the message text after markup was parsed.
func (m *Message) Text() string { return m.text }

// Length counts s in UTF-16 code units, as Telegram does.
func Length(s string) int {
	return len(utf16.Encode([]rune(s)))
}
