package recipient

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseAccepted(t *testing.T) {
	tests := []struct {
		in    string
		kind  Kind
		value string
		key   string
	}{
		{"@Friend1", Username, "Friend1", "@friend1"},
		{"Friend1", Username, "Friend1", "@friend1"},
		{"  @friend1  ", Username, "friend1", "@friend1"},
		{"@friend1__username", Username, "friend1__username", "@friend1__username"},
		{"abcd", Username, "abcd", "@abcd"},
		{"@" + strings.Repeat("a", 32), Username, strings.Repeat("a", 32), "@" + strings.Repeat("a", 32)},
		{"t.me/Friend1", Username, "Friend1", "@friend1"},
		{"t.me/friend1/", Username, "friend1", "@friend1"},
		{"https://t.me/friend1", Username, "friend1", "@friend1"},
		{"http://t.me/friend1", Username, "friend1", "@friend1"},
		{"HTTPS://T.ME/Friend1", Username, "Friend1", "@friend1"},
		{"telegram.me/friend1", Username, "friend1", "@friend1"},
		{"https://telegram.me/friend1/", Username, "friend1", "@friend1"},
		{"http://telegram.me/friend1", Username, "friend1", "@friend1"},
		{"+15551234567", Phone, "+15551234567", "+15551234567"},
		{"+1 (555) 123-45.67", Phone, "+15551234567", "+15551234567"},
		{"+1234567", Phone, "+1234567", "+1234567"},
		{"+123456789012345", Phone, "+123456789012345", "+123456789012345"},
		{"123456789", ID, "123456789", "id:123456789"},
		{"1", ID, "1", "id:1"},
		{"007", ID, "7", "id:7"},
		{"9223372036854775807", ID, "9223372036854775807", "id:9223372036854775807"},
		{"-1001234567890", ID, "-1001234567890", "id:-1001234567890"},
		{"-9223372036854775808", ID, "-9223372036854775808", "id:-9223372036854775808"},
		{"15551234567", ID, "15551234567", "id:15551234567"}, // bare digits are an id
		{"me", Self, "me", "me"},
		{"ME", Self, "me", "me"},
		{"self", Self, "me", "me"},
		{"Self", Self, "me", "me"},
		{"@self", Username, "self", "@self"}, // the @ makes it a username
		// Groups, channels and forum topics.
		{"@Club_Forum/42", Username, "Club_Forum", "@club_forum/42"},
		{"club_forum/42", Username, "club_forum", "@club_forum/42"},
		{"t.me/club_forum/42", Username, "club_forum", "@club_forum/42"},
		{"https://t.me/club_forum/42/", Username, "club_forum", "@club_forum/42"},
		{"@club_forum/1", Username, "club_forum", "@club_forum"}, // General is the chat
		{"@club_forum/007", Username, "club_forum", "@club_forum/7"},
		{"t.me/c/1234567890", ID, "-1001234567890", "id:-1001234567890"},
		{"https://t.me/c/1234567890/", ID, "-1001234567890", "id:-1001234567890"},
		{"t.me/c/1234567890/42", ID, "-1001234567890", "id:-1001234567890/42"},
		{"t.me/c/1/1", ID, "-1000000000001", "id:-1000000000001"},
		{"-1001234567890/42", ID, "-1001234567890", "id:-1001234567890/42"},
		{"-2001", ID, "-2001", "id:-2001"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			want := Recipient{Input: tt.in, Kind: tt.kind, Value: tt.value, Key: tt.key, Topic: topicOf(tt.key)}
			if r != want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, r, want)
			}
		})
	}
}

func TestParseRejected(t *testing.T) {
	tests := []struct {
		in, reason string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"@", "4 to 32 characters"},
		{"@ab", "a username has 4 to 32 characters"},
		{"abc", "4 to 32 characters"},
		{"@" + strings.Repeat("a", 33), "4 to 32 characters"},
		{"@1abcd", "must start with a letter"},
		{"@_abcd", "must start with a letter"},
		{"@abcd_", "cannot end with an underscore"},
		{"@ab-cd", `not '-'`},
		{"@ab.cd", `not '.'`},
		{"@abc d", `not ' '`},
		{"@frïend", `not 'ï'`},
		{"name#x", `not '#'`},
		{"12a", "must start with a letter"},
		{"1abcd", "must start with a letter"},
		{"0", "cannot be 0"},
		{"-0", "cannot be 0"},
		{"-", `only digits after the "-"`},
		{"-12a", `only digits after the "-"`},
		{"12345678901234567890", "at most 19 digits"},
		{"9223372036854775808", "out of range"},
		{"-9223372036854775809", "out of range"},
		{"(555) 123-4567", "must start with + and the country code"},
		{"555-1234", "must start with + and the country code"},
		{"+", "7 to 15 digits"},
		{"+123456", "7 to 15 digits"},
		{"+1234567890123456", "7 to 15 digits"},
		{"+1555abc4567", `not 'a'`},
		{"++15551234567", `not '+'`},
		{"t.me/+AbC", "invite links are not supported"},
		{"https://t.me/+AbCdEf123", "invite links are not supported"},
		{"t.me/joinchat/AbC", "invite links are not supported"},
		{"t.me/+15551234567", "phone number links are not supported"},
		{"t.me/friend1?start=x", "query"},
		{"t.me/friend1#x", "query or fragment"},
		{"t.me/friend1/123/7", "a link to a message is not a recipient"},
		{"t.me/s/friend1", "more than a username or a topic"},
		{"t.me/friend1//", "topic's number"},
		{"t.me/friend1/abc", "topic's number"},
		{"@friend1/0", "cannot be 0"},
		{"@friend1/-3", "topic's number"},
		{"@friend1/2147483648", "out of range"},
		{"@ab/42", "4 to 32 characters"},
		{"t.me/c/", "chat's number"},
		{"t.me/c/abc", "chat's number"},
		{"t.me/c/0", "out of range"},
		{"t.me/c/1000000000000", "chat's number"},
		{"t.me/c/123/42/9", "a link to a message is not a recipient"},
		{"-2001/42", "a basic group has no topics"},
		{"t.me/", "no username"},
		{"t.me", "no username"},
		{"https://t.me", "no username"},
		{"t.me/ab", "4 to 32 characters"},
		{"t.me/@friend1", `not '@'`},
		{"https://example.com/friend1", "only t.me and telegram.me links"},
		{"tg://resolve?domain=friend1", "only t.me and telegram.me links"},
		{"example.com/friend1", `not '.'`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error", tt.in, r)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error %T is not *Error", tt.in, err)
			}
			if e.Input != tt.in {
				t.Errorf("Input = %q, want %q", e.Input, tt.in)
			}
			if !strings.Contains(e.Reason, tt.reason) {
				t.Errorf("Reason = %q, want it to contain %q", e.Reason, tt.reason)
			}
			if want := fmt.Sprintf("invalid recipient %q: ", tt.in); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", err, want)
			}
			if r != (Recipient{}) {
				t.Errorf("Parse(%q) returned %+v with the error, want zero", tt.in, r)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Parse("@ab")
	if got, want := err.Error(), `invalid recipient "@ab": a username has 4 to 32 characters`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = Parse("t.me/+AbC")
	if got, want := err.Error(), `invalid recipient "t.me/+AbC": invite links are not supported`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = Parse("")
	if got, want := err.Error(), `invalid recipient "": empty`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Username: "username", Phone: "phone", ID: "id", Self: "self", 0: "Kind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

func TestParseAll(t *testing.T) {
	rs, err := ParseAll([]string{"@friend1, t.me/friend2,", " ", "+15551234567", ",me,,"})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range rs {
		keys = append(keys, r.Key)
	}
	if got, want := strings.Join(keys, " "), "@friend1 @friend2 +15551234567 me"; got != want {
		t.Errorf("keys = %q, want %q", got, want)
	}
	if rs[1].Input != "t.me/friend2" {
		t.Errorf("Input = %q, want the trimmed item", rs[1].Input)
	}

	rs, err = ParseAll(nil)
	if err != nil || len(rs) != 0 {
		t.Errorf("ParseAll(nil) = %v, %v; want nothing", rs, err)
	}
}

func TestParseAllCollectsErrors(t *testing.T) {
	rs, err := ParseAll([]string{"@ab,@friend1", "12a", "@good_name, t.me/+AbC"})
	if err == nil {
		t.Fatal("want error")
	}
	if rs != nil {
		t.Errorf("got recipients %v with the error, want none", rs)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T does not unwrap to several errors", err)
	}
	errs := joined.Unwrap()
	if len(errs) != 3 {
		t.Fatalf("got %d errors, want 3: %v", len(errs), err)
	}
	for i, in := range []string{"@ab", "12a", "t.me/+AbC"} {
		var e *Error
		if !errors.As(errs[i], &e) || e.Input != in {
			t.Errorf("error %d = %v, want one for %q", i, errs[i], in)
		}
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Error("errors.As(*Error) fails on the joined error")
	}
}

func TestReadList(t *testing.T) {
	const in = "\uFEFF# friends\n" +
		"@friend1\n" +
		"\n" +
		"   \t\n" +
		"  t.me/friend2   # from school\n" +
		"+1 555 123 4567\t# mobile\n" +
		"  # indented comment\n" +
		"name#x\n" +
		"a, b\r\n" +
		"last"
	got, err := ReadList(strings.NewReader(in), "list.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"@friend1", "t.me/friend2", "+1 555 123 4567", "name#x", "a, b", "last"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ReadList = %q, want %q", got, want)
	}
}

func TestReadListEmpty(t *testing.T) {
	got, err := ReadList(strings.NewReader("# nothing\n\n"), "empty.txt")
	if err != nil || len(got) != 0 {
		t.Errorf("ReadList = %q, %v; want nothing", got, err)
	}
}

func TestReadListErrors(t *testing.T) {
	_, err := ReadList(strings.NewReader("@friend1\n"+strings.Repeat("a", 70000)+"\n"), "list.txt")
	if err == nil || err.Error() != "list.txt:2: line too long" {
		t.Errorf("long line: err = %v", err)
	}

	boom := errors.New("boom")
	_, err = ReadList(iotest.ErrReader(boom), "list.txt")
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "list.txt:1: ") {
		t.Errorf("read error: err = %v", err)
	}
}

func TestDedupe(t *testing.T) {
	rs, err := ParseAll([]string{"@Friend1", "me", "t.me/friend1", "self", "+1 555 123 4567", "+15551234567", "007", "7"})
	if err != nil {
		t.Fatal(err)
	}
	got := Dedupe(rs)
	var inputs []string
	for _, r := range got {
		inputs = append(inputs, r.Input)
	}
	if got, want := strings.Join(inputs, "|"), "@Friend1|me|+1 555 123 4567|007"; got != want {
		t.Errorf("Dedupe kept %q, want %q", got, want)
	}
	if len(rs) != 8 || rs[2].Input != "t.me/friend1" {
		t.Error("Dedupe modified its input")
	}
	if got := Dedupe(nil); len(got) != 0 {
		t.Errorf("Dedupe(nil) = %v", got)
	}
	// A list without repeats is returned as it is: a long list is not
	// held twice.
	once := rs[:1]
	if got := Dedupe(once); len(got) != 1 || &got[0] != &once[0] {
		t.Error("Dedupe copied a list without repeats")
	}
}

// topicOf is the topic a Key ends with, for the table above.
func topicOf(key string) int {
	i := strings.LastIndex(key, "/")
	if i < 0 {
		return 0
	}
	n := 0
	fmt.Sscan(key[i+1:], &n)
	return n
}

func TestPeerKey(t *testing.T) {
	for in, want := range map[string]string{
		"@club/42": "@club", "t.me/c/123/42": "id:-1000000000123", "@club": "@club", "+15551234567": "+15551234567",
	} {
		r, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.PeerKey(); got != want {
			t.Errorf("Parse(%q).PeerKey() = %q, want %q", in, got, want)
		}
	}
}

func TestOnePlacePerChat(t *testing.T) {
	ok := []string{"@club/42", "@friend1", "t.me/club/42", "@other/3", "@club2"}
	rs, err := ParseAll(ok)
	if err != nil {
		t.Fatal(err)
	}
	if err := OnePlacePerChat(Dedupe(rs)); err != nil {
		t.Errorf("OnePlacePerChat(%v) = %v", ok, err)
	}
	bad := []string{"@club/42", "@club", "t.me/club/43", "t.me/c/5/2", "t.me/c/5"}
	rs, err = ParseAll(bad)
	if err != nil {
		t.Fatal(err)
	}
	err = OnePlacePerChat(Dedupe(rs))
	var e *Error
	if !errors.As(err, &e) || e.Input != "@club" || !strings.Contains(err.Error(), "one place per chat") {
		t.Fatalf("OnePlacePerChat(%v) = %v", bad, err)
	}
	for _, in := range []string{"t.me/club/43", "t.me/c/5"} {
		if !strings.Contains(err.Error(), in) {
			t.Errorf("%s is not reported in %v", in, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "me", "SELF", "@friend1", "Friend_1", "t.me/friend1", "https://telegram.me/x_y_z/",
		"t.me/+AbC", "t.me/joinchat/x", "+1 (555) 123-4567", "+", "123", "-1001234567890",
		"9223372036854775808", "12a", "(555) 123", "@ab", "http://", "a://b", "t.me//", "\xff\xfe",
		"@club/42", "t.me/c/123/4", "t.me/c/999999999999", "-1001234567890/1", "-5/5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Input != s || e.Reason == "" {
				t.Fatalf("Parse(%q): bad error %#v", s, err)
			}
			return
		}
		if r.Input != s || r.Key == "" || r.Value == "" || r.Kind < Username || r.Kind > Self {
			t.Fatalf("Parse(%q) = %+v", s, r)
		}
		// An id's Key is not itself parseable, but its Value is.
		again := r.Key
		if r.Kind == ID {
			again = r.Value
			if r.Topic != 0 {
				again += "/" + fmt.Sprint(r.Topic)
			}
		}
		if r.Topic < 0 || (r.Topic != 0) != (r.PeerKey() != r.Key) {
			t.Fatalf("Parse(%q) = %+v: topic and key disagree", s, r)
		}
		r2, err := Parse(again)
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, but re-parsing %q: %v", s, r, again, err)
		}
		if r2.Key != r.Key || r2.Kind != r.Kind {
			t.Fatalf("Parse(%q) = %+v, but Parse(%q) = %+v", s, r, again, r2)
		}
	})
}
