package telegram

import (
	"errors"
	"fmt"
	stdhtml "html"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/gotd/td/telegram/message/entity"
	"github.com/gotd/td/telegram/message/html"
	"github.com/gotd/td/telegram/message/markdown"
	"github.com/gotd/td/tg"

	"github.com/broadcast-cli/broadcast/internal/store"
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
	// AlbumMax is the most files one album (messages.sendMultiMedia) takes.
	AlbumMax = 10
)

// Content is what the user asked to send, before markup is parsed.
type Content struct {
	Text      string
	ParseMode string
	Silent    bool
	NoPreview bool
	Schedule  time.Time
	// Template: fill {first_name}, {last_name} and {username} per recipient.
	Template bool
	// Split: send text over the limit as several messages.
	Split bool
	// Attachments are file paths: one is a photo or document with the text
	// as its caption, several go as one album.
	Attachments []string
}

// Message is prepared content: markup checked, lengths checked, and (after
// Upload) the attachments uploaded once. It is shared by every send of a
// broadcast.
type Message struct {
	Content Content
	// fixed is the rendered message when it is the same for everyone (no
	// template); nil otherwise.
	fixed *rendered
	files []attachment
	// media are the uploaded attachments as references, set by Upload.
	media []tg.InputMediaClass
}

// rendered is one recipient's text: parsed, limit-checked and cut into parts.
type rendered struct {
	parts []part
}

type part struct {
	text     string
	entities []tg.MessageEntityClass
}

type attachment struct {
	path  string
	name  string
	mime  string
	photo bool
	size  int64
}

// Input errors: the caller reports them as usage errors, before any send.
var (
	ErrEmptyMessage = errors.New("the message is empty")
	ErrBadParseMode = errors.New("unknown parse mode")
	ErrSplitMedia   = errors.New("--split cannot be combined with --attach: a caption is one message")
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

// TemplateError: the template names a placeholder that does not exist.
type TemplateError struct{ Placeholder string }

func (e *TemplateError) Error() string {
	return fmt.Sprintf("unknown placeholder {%s} in the template (known: {first_name}, {last_name}, {username})", e.Placeholder)
}

// AttachmentError: a file to attach cannot be used.
type AttachmentError struct {
	Path string
	Err  error
}

func (e *AttachmentError) Error() string { return fmt.Sprintf("attachment %s: %v", e.Path, e.Err) }
func (e *AttachmentError) Unwrap() error { return e.Err }

var placeholderRe = regexp.MustCompile(`\{([a-z_]+)\}`)

var placeholders = map[string]bool{"first_name": true, "last_name": true, "username": true}

// Prepare checks c completely before anything is sent: the parse mode and
// markup (through gotd's html and markdown packages), template placeholders,
// lengths as Telegram counts them, and that every attachment can be read.
func Prepare(c Content) (*Message, error) {
	if c.ParseMode == "" {
		c.ParseMode = ParsePlain
	}
	switch c.ParseMode {
	case ParsePlain, ParseHTML, ParseMarkdown:
	default:
		return nil, fmt.Errorf("%w %q (use plain, markdown or html)", ErrBadParseMode, c.ParseMode)
	}
	m := &Message{Content: c}
	if len(c.Attachments) > 0 && c.Split {
		return nil, ErrSplitMedia
	}
	if len(c.Attachments) > AlbumMax {
		return nil, &AttachmentError{Path: c.Attachments[AlbumMax], Err: fmt.Errorf("an album holds at most %d files", AlbumMax)}
	}
	for _, p := range c.Attachments {
		a, err := inspect(p)
		if err != nil {
			return nil, err
		}
		m.files = append(m.files, a)
	}
	if c.Template {
		for _, sub := range placeholderRe.FindAllStringSubmatch(c.Text, -1) {
			if !placeholders[sub[1]] {
				return nil, &TemplateError{Placeholder: sub[1]}
			}
		}
		// Check the template with empty values: markup and the fixed part
		// of the length. Each recipient's text is checked again when filled.
		if _, err := m.render(store.Peer{}); err != nil {
			return nil, err
		}
		return m, nil
	}
	r, err := m.render(store.Peer{})
	if err != nil {
		return nil, err
	}
	m.fixed = r
	return m, nil
}

// Text is the first part of the message after markup was parsed (the
// template unfilled), for previews.
func (m *Message) Text() string {
	r := m.fixed
	if r == nil {
		r, _ = m.render(store.Peer{})
	}
	if r == nil || len(r.parts) == 0 {
		return ""
	}
	return r.parts[0].text
}

// Parts is how many messages each recipient gets (for split text).
func (m *Message) Parts() int {
	if m.fixed != nil {
		return len(m.fixed.parts)
	}
	return 1
}

// forPeer is the rendered message for one recipient.
func (m *Message) forPeer(p store.Peer) (*rendered, error) {
	if m.fixed != nil {
		return m.fixed, nil
	}
	return m.render(p)
}

func (m *Message) render(p store.Peer) (*rendered, error) {
	src := m.Content.Text
	if m.Content.Template {
		src = fill(src, p, m.Content.ParseMode)
	}
	var b entity.Builder
	switch m.Content.ParseMode {
	case ParseHTML:
		if err := checkHTML(src); err != nil {
			return nil, &MarkupError{Mode: m.Content.ParseMode, Err: err}
		}
		if err := html.HTML(strings.NewReader(src), &b, html.Options{}); err != nil {
			return nil, &MarkupError{Mode: m.Content.ParseMode, Err: err}
		}
	case ParseMarkdown:
		if err := markdown.Markdown(strings.NewReader(src), &b, markdown.Options{}); err != nil {
			return nil, &MarkupError{Mode: m.Content.ParseMode, Err: err}
		}
	default:
		b.Plain(src)
	}
	text, ents := b.Complete()
	if m.Content.ParseMode == ParseMarkdown {
		if err := checkMarkdown(src, text); err != nil {
			return nil, &MarkupError{Mode: m.Content.ParseMode, Err: err}
		}
	}
	media := len(m.files) > 0
	if !media && strings.TrimSpace(text) == "" && !m.Content.Template {
		return nil, ErrEmptyMessage
	}
	limit := MessageLengthMax
	if media {
		limit = CaptionLengthMax
	}
	n := Length(text)
	if n <= limit {
		return &rendered{parts: []part{{text: text, entities: ents}}}, nil
	}
	if !m.Content.Split {
		return nil, &TooLongError{Length: n, Limit: limit, Caption: media}
	}
	parts, err := split(text, ents, limit)
	if err != nil {
		return nil, err
	}
	return &rendered{parts: parts}, nil
}

// fill replaces placeholders with the recipient's names, escaped for the
// parse mode so a name cannot inject markup.
func fill(tmpl string, p store.Peer, mode string) string {
	return placeholderRe.ReplaceAllStringFunc(tmpl, func(ph string) string {
		var v string
		switch ph {
		case "{first_name}":
			v = p.FirstName
		case "{last_name}":
			v = p.LastName
		case "{username}":
			v = p.Username
		default:
			return ph
		}
		switch mode {
		case ParseHTML:
			return stdhtml.EscapeString(v)
		case ParseMarkdown:
			return markdownEscaper.Replace(v)
		}
		return v
	})
}

var markdownEscaper = func() *strings.Replacer {
	var pairs []string
	for _, c := range "\\`*_{}[]()<>#+-.!|~" {
		pairs = append(pairs, string(c), "\\"+string(c))
	}
	return strings.NewReplacer(pairs...)
}()

// split cuts text into parts of at most limit UTF-16 units, at a paragraph
// break if it can, else a line break, else a space, never inside a
// formatting entity. The parts concatenate back to the text exactly.
func split(text string, ents []tg.MessageEntityClass, limit int) ([]part, error) {
	u := utf16.Encode([]rune(text))
	inside := func(c int) bool {
		for _, e := range ents {
			if e.GetOffset() < c && c < e.GetOffset()+e.GetLength() {
				return true
			}
		}
		return false
	}
	var parts []part
	for start := 0; start < len(u); {
		end := len(u)
		if end-start > limit {
			end = cut(u, start, start+limit, inside)
			if end <= start {
				return nil, fmt.Errorf("cannot split the message: a formatting entity is longer than %d characters", limit)
			}
		}
		var pe []tg.MessageEntityClass
		for _, e := range ents {
			if e.GetOffset() >= start && e.GetOffset()+e.GetLength() <= end {
				pe = append(pe, shifted(e, e.GetOffset()-start))
			}
		}
		parts = append(parts, part{text: string(utf16.Decode(u[start:end])), entities: pe})
		start = end
	}
	return parts, nil
}

// cut picks the end of a part in (start, max].
func cut(u []uint16, start, max int, inside func(int) bool) int {
	ok := func(c int) bool {
		// Never between the halves of a surrogate pair.
		return !inside(c) && !(c < len(u) && utf16.IsSurrogate(rune(u[c])) && c > 0 && utf16.IsSurrogate(rune(u[c-1])))
	}
	for _, sep := range [][]uint16{{'\n', '\n'}, {'\n'}, {' '}} {
		for c := max; c > start+len(sep)-1; c-- {
			if ok(c) && hasSuffix(u[:c], sep) {
				return c
			}
		}
	}
	for c := max; c > start; c-- {
		if ok(c) {
			return c
		}
	}
	return start
}

func hasSuffix(u, sep []uint16) bool {
	if len(u) < len(sep) {
		return false
	}
	for i := range sep {
		if u[len(u)-len(sep)+i] != sep[i] {
			return false
		}
	}
	return true
}

// shifted copies an entity with a new offset. gotd's entity types are plain
// structs with an Offset field, so a reflective copy covers all of them.
func shifted(e tg.MessageEntityClass, offset int) tg.MessageEntityClass {
	v := reflect.New(reflect.TypeOf(e).Elem())
	v.Elem().Set(reflect.ValueOf(e).Elem())
	v.Elem().FieldByName("Offset").SetInt(int64(offset))
	return v.Interface().(tg.MessageEntityClass)
}

// Length counts s in UTF-16 code units, as Telegram does.
func Length(s string) int {
	return len(utf16.Encode([]rune(s)))
}

// inspect checks that a file can be attached and decides photo or document.
func inspect(path string) (attachment, error) {
	f, err := os.Open(path)
	if err != nil {
		return attachment{}, &AttachmentError{Path: path, Err: unwrapPath(err)}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return attachment{}, &AttachmentError{Path: path, Err: unwrapPath(err)}
	}
	if fi.IsDir() {
		return attachment{}, &AttachmentError{Path: path, Err: errors.New("is a directory")}
	}
	if fi.Size() == 0 {
		return attachment{}, &AttachmentError{Path: path, Err: errors.New("is empty")}
	}
	if fi.Size() > maxFileSize {
		return attachment{}, &AttachmentError{Path: path, Err: fmt.Errorf("is %d bytes; Telegram takes at most %d", fi.Size(), maxFileSize)}
	}
	head := make([]byte, 512)
	n, _ := f.Read(head)
	mime := detectMIME(path, head[:n])
	return attachment{
		path:  path,
		name:  filepath.Base(path),
		mime:  mime,
		photo: (mime == "image/jpeg" || mime == "image/png") && fi.Size() <= maxPhotoSize,
		size:  fi.Size(),
	}, nil
}

// Telegram's size limits: photos up to 10 MB, files up to 2 GB (4000 parts
// of 512 KiB).
const (
	maxPhotoSize = 10 << 20
	maxFileSize  = 4000 * 512 << 10
)

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
