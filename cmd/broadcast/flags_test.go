package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestUsageErrors runs the command line in-process, with no server and no
// session: each bad invocation exits 2 (or 4 when it is about the login)
// with one clear error line on stderr, before anything could be sent.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	writeFlagsTestFile(t, cfg, "default_list: friends\nlists:\n  friends: [\"@friend1\", \"@friend2\"]\n  family: [\"+15550000003\"]\n")
	writeFlagsTestFile(t, filepath.Join(dir, "bad-type.yaml"), "send:\n  concurrency: four\n")
	writeFlagsTestFile(t, filepath.Join(dir, "msg.txt"), "from a file\n")
	long := strings.Repeat("x", 4097)

	tests := []struct {
		name string
		args []string
		env  []string
		code int
		// err matches the first "broadcast: error: " line.
		err string
		// errLines is how many error lines there are; 0 means 1.
		errLines int
	}{
		{name: "concurrency negative", args: []string{"send", "--concurrency", "-1", "--to", "@friend1", "hi"}, code: 2,
			err: `^--concurrency must be between 1 and 1000, got -1$`},
		{name: "concurrency too big", args: []string{"send", "--concurrency", "1001", "--to", "@friend1", "hi"}, code: 2,
			err: `^--concurrency must be between 1 and 1000, got 1001$`},
		{name: "concurrency zero", args: []string{"send", "--concurrency", "0", "--to", "@friend1", "hi"}, code: 2,
			err: `^--concurrency must be between 1 and 1000, got 0$`},
		{name: "concurrency not a number", args: []string{"send", "--concurrency", "many", "--to", "@friend1", "hi"}, code: 2,
			err: `invalid value "many" for flag -concurrency`},
		{name: "rate negative", args: []string{"send", "--rate", "-1", "--to", "@friend1", "hi"}, code: 2,
			err: `^--rate must be 0 \(no limit\) or more, got -1$`},
		{name: "max flood wait negative", args: []string{"send", "--max-flood-wait", "-1s", "--to", "@friend1", "hi"}, code: 2,
			err: `^--max-flood-wait must not be negative$`},
		{name: "unknown flag on send", args: []string{"send", "--bogus", "x", "--to", "@friend1", "hi"}, code: 2,
			err: `^unknown flag --bogus$`},
		{name: "unknown global flag", args: []string{"--bogus", "hi"}, code: 2,
			err: `^unknown flag --bogus$`},
		{name: "two messages", args: []string{"send", "--to", "@friend1", "I bought", "a car"}, code: 2,
			err: `^expected one MESSAGE argument, got 2$`},
		{name: "message and message file", args: []string{"send", "--to", "@friend1", "--message-file", filepath.Join(dir, "msg.txt"), "hi"}, code: 2,
			err: `either as an argument or with --message-file, not both`},
		{name: "missing message file", args: []string{"send", "--to", "@friend1", "--message-file", filepath.Join(dir, "nosuch.txt")}, code: 2,
			err: `^read message file .*nosuch\.txt: no such file or directory$`},
		{name: "empty message", args: []string{"send", "--to", "@friend1", ""}, code: 2,
			err: `^the message is empty$`},
		{name: "blank message", args: []string{"send", "--to", "@friend1", " \n\t"}, code: 2,
			err: `^the message is empty$`},
		{name: "message too long", args: []string{"send", "--to", "@friend1", long}, code: 2,
			err: `^the message is 4097 characters long after formatting; Telegram allows 4096$`},
		{name: "unknown parse mode", args: []string{"send", "--to", "@friend1", "--parse-mode", "rtf", "hi"}, code: 2,
			err: `unknown parse mode "rtf"`},
		{name: "bad recipient", args: []string{"send", "--to", "@ab", "hi"}, code: 2,
			err: `^invalid recipient "@ab": `},
		{name: "two bad recipients", args: []string{"send", "--to", "@ab,@friend1", "--to", "t.me/+invite", "hi"}, code: 2,
			err: `^invalid recipient "@ab": `, errLines: 2},
		{name: "unknown list", args: []string{"send", "--list", "nosuch", "hi"}, code: 2,
			err: `^no list named "nosuch" in the config$`},
		{name: "missing recipient file", args: []string{"send", "--to-file", filepath.Join(dir, "nosuch.txt"), "hi"}, code: 2,
			err: `^read recipients .*nosuch\.txt: no such file or directory$`},
		{name: "missing named config", args: []string{"--config", filepath.Join(dir, "nosuch.yaml"), "lists"}, code: 2,
			err: `^config file .*nosuch\.yaml does not exist$`},
		{name: "config wrong type", args: []string{"--config", filepath.Join(dir, "bad-type.yaml"), "lists"}, code: 2,
			err: `bad-type\.yaml:2: send\.concurrency: `},
		{name: "api id not a number", args: []string{"lists"}, env: []string{"BROADCAST_API_ID=abc"}, code: 2,
			err: `^BROADCAST_API_ID="abc" is not a number$`},
		{name: "timeout not a duration", args: []string{"lists"}, env: []string{"BROADCAST_TIMEOUT=soon"}, code: 2,
			err: `^BROADCAST_TIMEOUT="soon" is not a duration`},
		{name: "mistyped command", args: []string{"lsts"}, code: 2,
			err: `^unknown command "lsts"; did you mean "lists"\?$`},
		{name: "resolve nothing", args: []string{"resolve"}, code: 2,
			err: `^no recipients to resolve$`},
		{name: "resolve bad recipient", args: []string{"resolve", "@ab"}, code: 2,
			err: `^invalid recipient "@ab": `},
		{name: "login phone and token", args: []string{"login", "--phone", "+15550000000", "--bot-token", "1:x"}, code: 2,
			err: `^give --phone or --bot-token, not both$`},
		{name: "login nothing without a terminal", args: []string{"login"}, code: 2,
			err: `^no phone number or bot token$`},
		{name: "history unknown id", args: []string{"history", "nosuch"}, code: 2,
			err: `^no broadcast "nosuch" in the journal$`},
		{name: "resume nothing", args: []string{"resume"}, code: 2,
			err: `^no unfinished broadcast to resume$`},
		{name: "json before command", args: []string{"--json", "send", "--concurrency", "-1", "--to", "@friend1", "hi"}, code: 2,
			err: `^--concurrency must be between 1 and 1000`},
		{name: "json after command", args: []string{"send", "--json", "--concurrency", "-1", "--to", "@friend1", "hi"}, code: 2,
			err: `^--concurrency must be between 1 and 1000`},

		// Valid input without a session: exit 4 and the login hint.
		{name: "send not logged in", args: []string{"send", "--to", "@friend1", "hi"}, code: 4,
			err: `^not logged in`},
		{name: "bare message not logged in", args: []string{"I bought a car!"}, code: 4,
			err: `^not logged in`},
		{name: "whoami not logged in", args: []string{"whoami"}, code: 4,
			err: `^not logged in`},
		{name: "logout not logged in", args: []string{"logout"}, code: 4,
			err: `^not logged in`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := []string{
				"HOME=" + filepath.Join(dir, "home"),
				"BROADCAST_CONFIG=" + cfg,
				"BROADCAST_STATE_DIR=" + filepath.Join(t.TempDir(), "state"),
			}
			env = append(env, tc.env...)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"broadcast"}, tc.args...), strings.NewReader(""), &stdout, &stderr, env)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstderr:\n%s", code, tc.code, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout is not empty:\n%s", stdout.String())
			}
			var errs []string
			for _, l := range strings.Split(stderr.String(), "\n") {
				if e, ok := strings.CutPrefix(l, "broadcast: error: "); ok {
					errs = append(errs, e)
				}
			}
			want := max(tc.errLines, 1)
			if len(errs) != want {
				t.Fatalf("%d error lines, want %d:\n%s", len(errs), want, stderr.String())
			}
			if !regexp.MustCompile(tc.err).MatchString(errs[0]) {
				t.Errorf("error %q does not match %q", errs[0], tc.err)
			}
		})
	}
}

func writeFlagsTestFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
