package telegram

import (
	"fmt"
	"regexp"
	"strings"
)

// gotd's parsers are forgiving: an unclosed <b> becomes plain text and an
// unmatched ** stays in the message as asterisks. A broadcast must not go
// out half-formatted, so the markup is checked first and the first problem is
// reported with its line and column.

// Position is a place in the message source, 1-based.
type Position struct{ Line, Col int }

func (p Position) String() string { return fmt.Sprintf("line %d, column %d", p.Line, p.Col) }

// SyntaxError is malformed markup at a position.
type SyntaxError struct {
	Pos Position
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s: %s", e.Pos, e.Msg) }

func position(src string, offset int) Position {
	before := src[:offset]
	line := strings.Count(before, "\n") + 1
	col := len([]rune(before[strings.LastIndexByte(before, '\n')+1:])) + 1
	return Position{Line: line, Col: col}
}

// htmlTags are the tags Telegram's HTML style supports.
var htmlTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true,
	"s": true, "strike": true, "del": true, "a": true, "code": true, "pre": true,
	"tg-spoiler": true, "span": true, "blockquote": true, "tg-emoji": true, "br": true,
}

var tagRe = regexp.MustCompile(`<(/?)([A-Za-z][A-Za-z0-9-]*)\b[^<>]*?(/?)>`)

// checkHTML reports unknown, mismatched and unclosed tags.
func checkHTML(src string) error {
	type open struct {
		name string
		at   int
	}
	var stack []open
	for _, m := range tagRe.FindAllStringSubmatchIndex(src, -1) {
		closing := m[3] > m[2]
		name := strings.ToLower(src[m[4]:m[5]])
		selfClosing := m[7] > m[6] || name == "br"
		if !htmlTags[name] {
			return &SyntaxError{Pos: position(src, m[0]), Msg: fmt.Sprintf("unsupported tag <%s>", name)}
		}
		switch {
		case selfClosing:
		case !closing:
			stack = append(stack, open{name: name, at: m[0]})
		case len(stack) == 0:
			return &SyntaxError{Pos: position(src, m[0]), Msg: fmt.Sprintf("</%s> closes nothing", name)}
		case stack[len(stack)-1].name != name:
			top := stack[len(stack)-1]
			return &SyntaxError{Pos: position(src, m[0]), Msg: fmt.Sprintf("</%s> found, but <%s> from %s is still open", name, top.name, position(src, top.at))}
		default:
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		return &SyntaxError{Pos: position(src, top.at), Msg: fmt.Sprintf("<%s> is never closed", top.name)}
	}
	return nil
}

// markdownDelims are the paired markers that CommonMark leaves in the text
// as literal characters when they are not matched.
var markdownDelims = []string{"**", "__", "~~", "`"}

// checkMarkdown reports a delimiter that the parser left in the output: it
// was opened and never closed.
func checkMarkdown(src, rendered string) error {
	for _, d := range markdownDelims {
		if !strings.Contains(rendered, d) {
			continue
		}
		// Escaped delimiters (\*\*) are meant literally.
		plain := strings.ReplaceAll(src, `\`+d[:1], "")
		if !strings.Contains(plain, d) {
			continue
		}
		at := strings.Index(src, d)
		return &SyntaxError{Pos: position(src, at), Msg: fmt.Sprintf("%s is opened but never closed (escape it as \\%s to mean it literally)", d, string(d[0]))}
	}
	return nil
}
