// Package recipient owns the syntax of recipients: it turns what a user
// writes on the command line, in a list file or in the config file
// (@name, t.me links, phone numbers, numeric ids, "me") into validated
// Recipient values with a canonical Key, so every recipient can be checked
// before anything is sent and duplicates can be dropped.
package recipient

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Kind says how a recipient is addressed.
type Kind int

// Kinds of recipients. The zero Kind is deliberately not one of them, so a
// zero Recipient is recognisably unset.
const (
	// Username is a public @username.
	Username Kind = iota + 1
	// Phone is a phone number of a contact, in international format.
	Phone
	// ID is a numeric user or chat id.
	ID
	// Self is the user's own Saved Messages.
	Self
)

// String returns the lowercase name of k, as used in messages.
func (k Kind) String() string {
	switch k {
	case Username:
		return "username"
	case Phone:
		return "phone"
	case ID:
		return "id"
	case Self:
		return "self"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Recipient is one parsed and validated recipient.
type Recipient struct {
	// Input is the recipient as the user wrote it.
	Input string
	// Kind says which of the forms Input was.
	Kind Kind
	// Value is the normalised address: a username without "@" in its
	// original case, a phone as "+" and digits, an id as decimal digits
	// (with a leading "-" for chat ids), or "me".
	Value string
	// Key identifies the recipient regardless of how it was written:
	// "@" and the lowercase username, "+" and digits, "id:" and the id, or
	// "me", then "/" and the topic for a forum topic. Two recipients with
	// the same Key are the same recipient.
	Key string
	// Topic is the forum topic a message goes to (its id, the id of the
	// message that opened it), or 0 for the chat itself. The General
	// topic (id 1) is the chat itself, so it is 0 here.
	Topic int
}

// PeerKey is the Key of the chat or user itself, without the topic: the
// key the peer cache knows it by.
func (r Recipient) PeerKey() string {
	if r.Topic == 0 {
		return r.Key
	}
	return strings.TrimSuffix(r.Key, "/"+strconv.Itoa(r.Topic))
}

// Error reports an input that is not a valid recipient.
type Error struct {
	// Input is the offending input as written.
	Input string
	// Reason says what is wrong with it.
	Reason string
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("invalid recipient %q: %s", e.Input, e.Reason)
}

// Limits from Telegram's rules for usernames and from E.164 for phones.
const (
	minUsername = 4
	maxUsername = 32
	minPhone    = 7
	maxPhone    = 15
	maxIDDigits = 19 // enough for any int64
)

// Parse parses one recipient. Leading and trailing spaces are ignored. The
// accepted forms are @name, name, t.me/name and telegram.me/name links
// (with or without http:// or https://, and with an optional trailing
// "/"), +phone (spaces, dashes, dots and parentheses allowed), a numeric
// id (negative for chats, as the Bot API writes them: -ID for a basic
// group, -100ID for a supergroup or channel), and "me" or "self". Bare
// digits are an id, never a phone: a phone needs its "+".
//
// Groups and channels: a forum topic is @name/TOPIC or t.me/name/TOPIC; a
// private supergroup or channel is t.me/c/ID (its link in Telegram's apps),
// and t.me/c/ID/TOPIC a topic in it; -100ID/TOPIC is the same topic. Errors
// are of type *Error.
func Parse(s string) (Recipient, error) {
	r, reason := parse(strings.TrimSpace(s))
	if reason != "" {
		return Recipient{}, &Error{Input: s, Reason: reason}
	}
	r.Input = s
	if r.Key == s {
		// Already canonical, as in most lists: keep one copy of the text,
		// not two, for each of a long list's recipients.
		r.Key = s
	}
	return r, nil
}

// parse does the work of Parse on trimmed input; a non-empty reason means
// the input is invalid.
func parse(s string) (Recipient, string) {
	if s == "" {
		return Recipient{}, "empty"
	}
	if strings.EqualFold(s, "me") || strings.EqualFold(s, "self") {
		return Recipient{Kind: Self, Value: "me", Key: "me"}, ""
	}
	switch c := s[0]; {
	case c == '+':
		return parsePhone(s)
	case isNumber(strings.TrimPrefix(s, "-")):
		return parseID(s)
	case c == '-' && strings.Contains(s, "/") && isNumber(s[1:strings.Index(s, "/")]):
		id, topic, _ := strings.Cut(s, "/")
		return withTopic(parseID(id))(topic)
	case looksLikePhone(s):
		return Recipient{}, "a phone number must start with + and the country code"
	case c == '-':
		return Recipient{}, "an id has only digits after the \"-\""
	case isDigit(c):
		return Recipient{}, "not a number, and a username must start with a letter"
	case c == '@':
		return parseNamePath(s[1:])
	}
	if rest, ok, reason := cutLink(s); ok || reason != "" {
		if reason != "" {
			return Recipient{}, reason
		}
		return parseLinkPath(rest)
	}
	return parseNamePath(s)
}

// cutLink reports whether s is a t.me or telegram.me link and returns what
// follows the host. A link to any other site is an error rather than a
// username, because no username contains "/" or ":".
func cutLink(s string) (rest string, ok bool, reason string) {
	lower := strings.ToLower(s)
	scheme := ""
	for _, p := range []string{"https://", "http://"} {
		if strings.HasPrefix(lower, p) {
			scheme = p
			break
		}
	}
	afterScheme := lower[len(scheme):]
	for _, host := range []string{"t.me", "telegram.me"} {
		if afterScheme == host {
			return "", true, ""
		}
		if strings.HasPrefix(afterScheme, host+"/") {
			return s[len(scheme)+len(host)+1:], true, ""
		}
	}
	if scheme != "" || strings.Contains(s, "://") {
		return "", false, "only t.me and telegram.me links are supported"
	}
	return "", false, ""
}

// parseLinkPath parses the part of a t.me link after the host.
func parseLinkPath(path string) (Recipient, string) {
	if strings.ContainsAny(path, "?#") {
		return Recipient{}, "a link with a query or fragment is not supported"
	}
	path = strings.TrimSuffix(path, "/")
	switch {
	case path == "":
		return Recipient{}, "the link has no username"
	case strings.HasPrefix(path, "+"):
		if isNumber(path[1:]) {
			return Recipient{}, "phone number links are not supported"
		}
		return Recipient{}, "invite links are not supported"
	case strings.HasPrefix(strings.ToLower(path), "joinchat/"):
		return Recipient{}, "invite links are not supported"
	case path == "c" || strings.HasPrefix(path, "c/"):
		return parsePrivateLink(strings.TrimPrefix(path, "c/"))
	}
	return parseNamePath(path)
}

// parseNamePath parses a username with an optional "/TOPIC", as written
// after "@" or in a t.me link.
func parseNamePath(path string) (Recipient, string) {
	name, topic, hasTopic := strings.Cut(path, "/")
	if !hasTopic {
		return parseUsername(name)
	}
	if strings.Contains(topic, "/") {
		return Recipient{}, "a link to a message is not a recipient: give the chat (t.me/name) or a forum topic (t.me/name/TOPIC)"
	}
	if name == "s" {
		// t.me/s/name is a channel's web preview, not a topic.
		return Recipient{}, "a link with more than a username or a topic is not supported"
	}
	return withTopic(parseUsername(name))(topic)
}

// maxChannelID bounds the id in a t.me/c/ID link: channel ids are below
// 10^12, the offset the Bot API (and so -100ID) marks them with.
const maxChannelID = 1_000_000_000_000 - 1

// ChannelMark is what the Bot API adds to a channel's id before negating it:
// channel 1234567890 is -1001234567890. Keys and the journal use the same
// numbers, so a chat can never share an id with a user.
const ChannelMark = 1_000_000_000_000

// parsePrivateLink parses what follows "t.me/c/": ID or ID/TOPIC, the link
// Telegram's apps give a private supergroup or channel.
func parsePrivateLink(path string) (Recipient, string) {
	id, topic, hasTopic := strings.Cut(path, "/")
	if !isNumber(id) || len(id) > 12 {
		return Recipient{}, "t.me/c/ takes the chat's number, as in t.me/c/1234567890"
	}
	n, _ := strconv.ParseInt(id, 10, 64)
	if n <= 0 || n > maxChannelID {
		return Recipient{}, "the chat number in t.me/c/ is out of range"
	}
	r, reason := parseID(strconv.FormatInt(-ChannelMark-n, 10))
	if !hasTopic {
		return r, reason
	}
	if strings.Contains(topic, "/") {
		return Recipient{}, "a link to a message is not a recipient: give the chat (t.me/c/ID) or a forum topic (t.me/c/ID/TOPIC)"
	}
	return withTopic(r, reason)(topic)
}

// withTopic adds the forum topic written after a chat to a parsed chat.
// Topic 1 is the General topic, which is the chat itself.
func withTopic(r Recipient, reason string) func(topic string) (Recipient, string) {
	return func(topic string) (Recipient, string) {
		if reason != "" {
			return Recipient{}, reason
		}
		if !isNumber(topic) {
			return Recipient{}, "after the chat comes a forum topic's number, as in @name/42"
		}
		n, err := strconv.ParseInt(topic, 10, 32)
		switch {
		case err != nil:
			return Recipient{}, "the topic number is out of range"
		case n == 0:
			return Recipient{}, "a topic number cannot be 0"
		case r.Kind == ID && !strings.HasPrefix(r.Value, "-"):
			return Recipient{}, "only a group or channel has topics"
		case r.Kind == ID && isBasicGroup(r.Value):
			return Recipient{}, "a basic group has no topics; only a forum supergroup has"
		case n == 1:
			return r, "" // the General topic
		}
		r.Topic = int(n)
		r.Key += "/" + strconv.FormatInt(n, 10)
		return r, ""
	}
}

// isBasicGroup: a negative id above the channel mark is a basic group's.
func isBasicGroup(v string) bool {
	id, err := strconv.ParseInt(v, 10, 64)
	return err == nil && id < 0 && id > -ChannelMark
}

// parseUsername validates a username given without its "@".
func parseUsername(name string) (Recipient, string) {
	for _, c := range name {
		if !isUsernameRune(c) {
			return Recipient{}, fmt.Sprintf("a username has only letters, digits and underscores, not %q", c)
		}
	}
	switch {
	case len(name) < minUsername || len(name) > maxUsername:
		return Recipient{}, "a username has 4 to 32 characters"
	case !isLetter(name[0]):
		return Recipient{}, "a username must start with a letter"
	case name[len(name)-1] == '_':
		return Recipient{}, "a username cannot end with an underscore"
	}
	return Recipient{Kind: Username, Value: name, Key: "@" + strings.ToLower(name)}, ""
}

// parsePhone validates a phone number that starts with "+".
func parsePhone(s string) (Recipient, string) {
	var b strings.Builder
	b.WriteByte('+')
	for _, c := range s[1:] {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case isPhoneSeparator(c):
		default:
			return Recipient{}, fmt.Sprintf("a phone number has only digits after the +, not %q", c)
		}
	}
	phone := b.String()
	if n := len(phone) - 1; n < minPhone || n > maxPhone {
		return Recipient{}, "a phone number has 7 to 15 digits"
	}
	return Recipient{Kind: Phone, Value: phone, Key: phone}, ""
}

// parseID validates a numeric id: digits with an optional leading "-".
func parseID(s string) (Recipient, string) {
	if len(strings.TrimPrefix(s, "-")) > maxIDDigits {
		return Recipient{}, "an id has at most 19 digits"
	}
	id, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil:
		return Recipient{}, "the id is out of range"
	case id == 0:
		return Recipient{}, "an id cannot be 0"
	}
	// Formatting the number drops leading zeros, so "007" and "7" share a Key.
	v := strconv.FormatInt(id, 10)
	return Recipient{Kind: ID, Value: v, Key: "id:" + v}, ""
}

// looksLikePhone reports whether s is digits and phone separators with at
// least one of each, like "(555) 123-4567": bare digits are an id, but this
// cannot be one, and saying it lacks a "+" is more useful than saying it is
// not a username.
func looksLikePhone(s string) bool {
	digit, sep := false, false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case isPhoneSeparator(c):
			sep = true
		default:
			return false
		}
	}
	return digit && sep
}

func isPhoneSeparator(c rune) bool {
	return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')'
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isUsernameRune(c rune) bool {
	return c < 0x80 && (isLetter(byte(c)) || isDigit(byte(c)) || c == '_')
}

// ParseAll parses every input. Each input may be a comma-separated list
// ("a,b, c"); items are trimmed and empty items skipped, so trailing commas
// are harmless. All invalid items are reported at once, joined with
// errors.Join, so a user can fix them in one go; each joined error is an
// *Error. On error no recipients are returned, so nothing is sent to a
// partly valid set. The result may contain duplicates; see Dedupe.
func ParseAll(inputs []string) ([]Recipient, error) {
	var (
		out  = make([]Recipient, 0, len(inputs)) // one a line, most often
		errs []error
	)
	for _, in := range inputs {
		for item := range strings.SplitSeq(in, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			r, err := Parse(item)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, r)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// ReadList reads one recipient a line from r and returns the lines as
// written, for ParseAll. Lines are trimmed; blank lines and lines starting
// with "#" are skipped, and a comment after a recipient (" # note") is
// removed. name identifies the source in errors, as "name:line: ...".
func ReadList(r io.Reader, name string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			// Editors on some systems start files with a byte order mark.
			text = strings.TrimPrefix(text, "\uFEFF")
		}
		text = strings.TrimSpace(stripComment(text))
		if text != "" {
			out = append(out, text)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line too long", name, line+1)
		}
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return out, nil
}

// stripComment removes a "#" comment that starts the line or follows
// whitespace. A "#" inside a word is kept so that Parse reports it instead
// of the recipient being silently truncated.
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			return s[:i]
		}
	}
	return s
}

// Dedupe returns rs without repeated recipients, keeping the first of each
// Key in order. rs is not modified; without repeats it is returned as it
// is, not copied (a long list is held once).
func Dedupe(rs []Recipient) []Recipient {
	seen := make(map[string]bool, len(rs))
	var out []Recipient
	for i, r := range rs {
		if seen[r.Key] {
			if out == nil {
				out = append(make([]Recipient, 0, len(rs)-1), rs[:i]...)
			}
			continue
		}
		seen[r.Key] = true
		if out != nil {
			out = append(out, r)
		}
	}
	if out == nil {
		return rs
	}
	return out
}

// OnePlacePerChat refuses recipients (after Dedupe) that name the same
// chat twice with different places in it: the chat itself and a topic, or
// two topics. A broadcast's journal and random_ids are per chat, so one
// broadcast delivers to one place in each chat; another topic needs a
// broadcast of its own. The same chat written two ways (@name, t.me/c/ID)
// is caught only once both are resolved, by the sender.
func OnePlacePerChat(rs []Recipient) error {
	// After Dedupe two places in one chat differ by their topic, so only
	// the chats a topic is given for can conflict: for a list of people,
	// none, and nothing more is held.
	topical := map[string]bool{}
	for _, r := range rs {
		if r.Topic != 0 {
			topical[r.PeerKey()] = true
		}
	}
	if len(topical) == 0 {
		return nil
	}
	first := map[string]Recipient{}
	var errs []error
	for _, r := range rs {
		k := r.PeerKey()
		if !topical[k] {
			continue
		}
		f, ok := first[k]
		if !ok {
			first[k] = r
			continue
		}
		if f.Key != r.Key {
			errs = append(errs, &Error{Input: r.Input, Reason: fmt.Sprintf(
				"%s is another place in the same chat, and a broadcast goes to one place per chat: send to the other in a second broadcast", f.Input)})
		}
	}
	return errors.Join(errs...)
}
