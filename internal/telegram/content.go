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
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

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
	// Caption: the text is the caption of media already sent (an edit of a
	// broadcast that had attachments), so the caption limit applies.
	Caption bool
}

// Message is prepared content: markup checked, lengths checked, and (after
// Upload) the attachments uploaded once. It is shared by every send of a
// broadcast.
type Message struct {
	Content Content
	// fixed is the rendered message when it is the same for everyone (no
	// template); nil otherwise.
	fixed *rendered
	// tmpl is the parsed template, filled per recipient; nil without one.
	tmpl  *template
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
	ErrSplitMedia   = errors.New("a caption is one message: it cannot be split")
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

// EntityTooLongError: --split cannot cut the text because a formatting
// entity (or several nested in one another) is longer than a message holds.
// Parts are cut only outside entities, so this is the user's to fix: shorten
// that passage or drop its formatting.
type EntityTooLongError struct {
	// Entity is the kind of formatting, in words: "bold", "link", "code
	// block", ...
	Entity string
	// Offset and Length are where the uncuttable run is in the formatted
	// text, in UTF-16 units as Telegram counts; Limit is what one message
	// holds.
	Offset, Length, Limit int
}

func (e *EntityTooLongError) Error() string {
	what := "formatting"
	if e.Entity != "" {
		what = e.Entity + " formatting"
	}
	return fmt.Sprintf("cannot split the message: the %s from character %d is %d characters long; one message holds %d and a split cuts only outside formatting",
		what, e.Offset+1, e.Length, e.Limit)
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
	if (len(c.Attachments) > 0 || c.Caption) && c.Split {
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
		t, err := parseTemplate(c.Text, c.ParseMode)
		if err != nil {
			return nil, err
		}
		m.tmpl = t
		// Check the fixed part of the length with empty values. Each
		// recipient's text is checked again when filled.
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

// Text is the first part of the message after markup was parsed, for
// previews. A template shows its placeholders unfilled ({first_name}).
func (m *Message) Text() string {
	r := m.fixed
	switch {
	case r == nil && m.tmpl == nil:
		r, _ = m.render(store.Peer{})
	case r == nil:
		text, ents := m.tmpl.fill(func(name string) string { return "{" + name + "}" })
		var err error
		if r, err = m.layout(text, ents); err != nil {
			// The placeholders' own length can push a preview over the
			// limit; show it whole.
			return text
		}
	}
	if r == nil || len(r.parts) == 0 {
		return ""
	}
	return r.parts[0].text
}

// Fill is the message one recipient gets, part by part (one part unless the
// text is split), with a template's placeholders filled from the names. A
// message without a template is the same for everyone. The error is the one
// sending to that recipient would fail with (*TooLongError,
// *EntityTooLongError); it is for previews such as --dry-run.
func (m *Message) Fill(firstName, lastName, username string) ([]string, error) {
	r, err := m.forPeer(store.Peer{FirstName: firstName, LastName: lastName, Username: username})
	if err != nil {
		return nil, err
	}
	texts := make([]string, len(r.parts))
	for i, p := range r.parts {
		texts[i] = p.text
	}
	return texts, nil
}

// Parts is how many messages each recipient gets (for split text). A split
// template can differ per recipient; this is the count without names.
func (m *Message) Parts() int {
	if m.fixed != nil {
		return len(m.fixed.parts)
	}
	if r, err := m.render(store.Peer{}); err == nil {
		return len(r.parts)
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

// render parses the text, or fills the template for p, and lays it out in
// parts.
func (m *Message) render(p store.Peer) (*rendered, error) {
	if m.tmpl == nil {
		text, ents, err := parse(m.Content.Text, m.Content.Text, m.Content.ParseMode)
		if err != nil {
			return nil, err
		}
		return m.layout(text, ents)
	}
	text, ents := m.tmpl.fill(func(name string) string {
		switch name {
		case "first_name":
			return p.FirstName
		case "last_name":
			return p.LastName
		case "username":
			return p.Username
		}
		return ""
	})
	return m.layout(text, ents)
}

// parse turns src into text and entities for mode. orig is the source as the
// user wrote it, for the positions in markup errors; it differs from src
// only where a template's placeholders stand.
func parse(src, orig, mode string) (string, []tg.MessageEntityClass, error) {
	var b entity.Builder
	switch mode {
	case ParseHTML:
		if err := checkHTML(orig); err != nil {
			return "", nil, &MarkupError{Mode: mode, Err: err}
		}
		if err := html.HTML(strings.NewReader(src), &b, html.Options{}); err != nil {
			return "", nil, &MarkupError{Mode: mode, Err: err}
		}
	case ParseMarkdown:
		if err := markdown.Markdown(strings.NewReader(src), &b, markdown.Options{}); err != nil {
			return "", nil, &MarkupError{Mode: mode, Err: err}
		}
	default:
		b.Plain(src)
	}
	text, ents := b.Complete()
	if mode == ParseMarkdown {
		if err := checkMarkdown(orig, text); err != nil {
			return "", nil, &MarkupError{Mode: mode, Err: err}
		}
	}
	return text, ents, nil
}

// layout checks text against the limit and cuts it into parts with --split.
func (m *Message) layout(text string, ents []tg.MessageEntityClass) (*rendered, error) {
	media := len(m.files) > 0 || m.Content.Caption
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

// template is a message parsed once with its placeholders standing in as
// single private-use characters, and filled per recipient in the parsed
// text. The markup is parsed before the names go in, so a placeholder reads
// as an ordinary word to the parser (**Dear {first_name}** is bold even when
// a name is empty), and a name is never markup, whatever it contains.
type template struct {
	text string
	ents []tg.MessageEntityClass
	// slots maps each stand-in character to its placeholder's name.
	slots map[rune]string
}

// parseTemplate parses src for mode with stand-ins for the placeholders.
func parseTemplate(src, mode string) (*template, error) {
	// Stand-ins come from the Private Use Area, skipping any character the
	// message has (or, through a character reference, could produce).
	used := src
	if mode == ParseHTML {
		used += stdhtml.UnescapeString(src)
	}
	t := &template{slots: map[rune]string{}}
	standIn := map[string]rune{}
	next := rune(0xE000)
	for _, name := range []string{"first_name", "last_name", "username"} {
		for strings.ContainsRune(used, next) {
			next++
		}
		standIn[name] = next
		t.slots[next] = name
		next++
	}
	withStandIns := placeholderRe.ReplaceAllStringFunc(src, func(ph string) string {
		return string(standIn[ph[1:len(ph)-1]])
	})
	text, ents, err := parse(withStandIns, src, mode)
	if err != nil {
		return nil, err
	}
	t.text, t.ents = text, ents
	return t, nil
}

// fill puts value(name) in place of every placeholder, moves the entities
// with the text (an entity around a placeholder covers the whole value; one
// left empty is dropped), and fills placeholders in entities' URLs too.
func (t *template) fill(value func(name string) string) (string, []tg.MessageEntityClass) {
	values := make(map[rune]string, len(t.slots))
	var pairs []string
	for r, name := range t.slots {
		values[r] = value(name)
		pairs = append(pairs, string(r), values[r])
	}
	var b strings.Builder
	// at[i] is where the old UTF-16 offset i is in the filled text.
	at := make([]int, 0, len(t.text)+1)
	n := 0
	for i, r := range t.text {
		if v, ok := values[r]; ok {
			at = append(at, n)
			b.WriteString(v)
			n += Length(v)
			continue
		}
		_, size := utf8.DecodeRuneInString(t.text[i:])
		b.WriteString(t.text[i : i+size])
		for k := 0; k < utf16.RuneLen(r); k++ {
			at = append(at, n+k)
		}
		n += utf16.RuneLen(r)
	}
	at = append(at, n)
	pos := func(old int) int { return at[min(max(old, 0), len(at)-1)] }
	rep := strings.NewReplacer(pairs...)
	var ents []tg.MessageEntityClass
	for _, e := range t.ents {
		start, end := pos(e.GetOffset()), pos(e.GetOffset()+e.GetLength())
		if end <= start {
			continue
		}
		ents = append(ents, withBounds(e, start, end-start, rep.Replace))
	}
	return b.String(), ents
}

// split cuts text into parts of at most limit UTF-16 units, at a paragraph
// break if it can, else a line break, else a space, never inside a
// formatting entity or a character. The parts concatenate back to the text
// exactly.
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
				return nil, entityTooLong(ents, start, start+limit, limit)
			}
		}
		var pe []tg.MessageEntityClass
		for _, e := range ents {
			if e.GetLength() > 0 && e.GetOffset() >= start && e.GetOffset()+e.GetLength() <= end {
				pe = append(pe, withBounds(e, e.GetOffset()-start, e.GetLength(), nil))
			}
		}
		parts = append(parts, part{text: string(utf16.Decode(u[start:end])), entities: pe})
		start = end
	}
	return parts, nil
}

// entityTooLong describes the run of entities that no cut can go through:
// the one that blocks the last place a cut was tried.
func entityTooLong(ents []tg.MessageEntityClass, start, upto, limit int) error {
	blocks := func(e tg.MessageEntityClass, c int) bool {
		return e.GetOffset() < c && c < e.GetOffset()+e.GetLength()
	}
	// lo and hi are the first and last offsets the run blocks.
	lo, hi := -1, -1
	for c := upto; c > start && lo < 0; c-- {
		for _, e := range ents {
			if blocks(e, c) {
				lo, hi = c, c
				break
			}
		}
	}
	if lo < 0 {
		return &EntityTooLongError{Offset: start, Length: upto - start, Limit: limit}
	}
	var widest tg.MessageEntityClass
	for grown := true; grown; {
		grown = false
		for _, e := range ents {
			off, end := e.GetOffset(), e.GetOffset()+e.GetLength()
			if off >= hi || end <= lo {
				continue // blocks nothing in [lo, hi]
			}
			if off+1 < lo || end-1 > hi {
				lo, hi = min(lo, off+1), max(hi, end-1)
				grown = true
			}
			if widest == nil || e.GetLength() > widest.GetLength() {
				widest = e
			}
		}
	}
	return &EntityTooLongError{Entity: entityName(widest), Offset: lo - 1, Length: hi - lo + 2, Limit: limit}
}

// entityName is a formatting entity's kind in words.
func entityName(e tg.MessageEntityClass) string {
	name := strings.TrimPrefix(reflect.TypeOf(e).Elem().Name(), "MessageEntity")
	switch name {
	case "TextURL":
		return "link"
	case "Pre":
		return "code block"
	case "Strike":
		return "strikethrough"
	case "Blockquote":
		return "quote"
	case "MentionName":
		return "mention"
	}
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) && !unicode.IsUpper(rune(name[i-1])) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// cut picks the end of a part in (start, max]: the last paragraph break,
// else line break, else space; failing those the last boundary between two
// characters as people see them, and failing that between two code points.
// It never cuts inside an entity or a surrogate pair; start means no cut.
func cut(u []uint16, start, max int, inside func(int) bool) int {
	ok := func(c int) bool { return !inside(c) && !inPair(u, c) }
	for _, sep := range [][]uint16{{'\n', '\n'}, {'\n'}, {' '}} {
		for c := max; c > start+len(sep)-1; c-- {
			if hasSuffix(u[:c], sep) && ok(c) {
				return c
			}
		}
	}
	for c := max; c > start; c-- {
		if ok(c) && !joined(u, c) {
			return c
		}
	}
	for c := max; c > start; c-- {
		if ok(c) {
			return c
		}
	}
	return start
}

// inPair: offset c falls between the two halves of a surrogate pair.
func inPair(u []uint16, c int) bool {
	return c > 0 && c < len(u) && isHigh(u[c-1]) && isLow(u[c])
}

func isHigh(x uint16) bool { return 0xD800 <= x && x < 0xDC00 }
func isLow(x uint16) bool  { return 0xDC00 <= x && x < 0xE000 }

// joined: the characters either side of offset c make one symbol on screen
// (a combining mark, a variation selector, a skin tone, an emoji tag or a
// zero-width joiner), so a cut there would show broken halves.
func joined(u []uint16, c int) bool {
	if c <= 0 || c >= len(u) {
		return false
	}
	after := rune(u[c])
	if isHigh(u[c]) && c+1 < len(u) && isLow(u[c+1]) {
		after = utf16.DecodeRune(after, rune(u[c+1]))
	}
	before := rune(u[c-1])
	if isLow(u[c-1]) && c >= 2 && isHigh(u[c-2]) {
		before = utf16.DecodeRune(rune(u[c-2]), before)
	}
	const zwj = 0x200D
	switch {
	case before == zwj, after == zwj,
		unicode.Is(unicode.M, after),
		unicode.Is(unicode.Variation_Selector, after),
		0x1F3FB <= after && after <= 0x1F3FF, // skin tones
		0xE0020 <= after && after <= 0xE007F: // emoji tags
		return true
	}
	return false
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

// withBounds copies an entity with a new offset and length, passing its
// string fields (a link's URL, a code block's language) through fix when it
// is not nil. gotd's entity types are plain structs with Offset and Length
// fields, so a reflective copy covers all of them.
func withBounds(e tg.MessageEntityClass, offset, length int, fix func(string) string) tg.MessageEntityClass {
	v := reflect.New(reflect.TypeOf(e).Elem())
	v.Elem().Set(reflect.ValueOf(e).Elem())
	v.Elem().FieldByName("Offset").SetInt(int64(offset))
	v.Elem().FieldByName("Length").SetInt(int64(length))
	if fix != nil {
		for i := 0; i < v.Elem().NumField(); i++ {
			if f := v.Elem().Field(i); f.Kind() == reflect.String && f.CanSet() {
				f.SetString(fix(f.String()))
			}
		}
	}
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
