package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/broadcast-cli/broadcast/internal/config"
	"github.com/broadcast-cli/broadcast/internal/recipient"
	"github.com/broadcast-cli/broadcast/internal/store"
	"github.com/broadcast-cli/broadcast/internal/telegram"
)

// Exit codes, as DESIGN.md fixes them.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitPartial     = 3
	exitAuth        = 4
	exitInterrupted = 130
)

// usageError is bad input: a flag, a recipient, a message, the config.
// Nothing was sent.
type usageError struct {
	err  error
	hint string
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(hint, format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...), hint: hint}
}

// outcomeError carries an exit code decided by a command that has already
// reported its results (partial failure, interruption).
type outcomeError struct {
	code int
	msg  string
	hint string
}

func (e *outcomeError) Error() string { return e.msg }

// hinted adds a hint to an operational error.
type hinted struct {
	err  error
	hint string
}

func (e *hinted) Error() string { return e.err.Error() }
func (e *hinted) Unwrap() error { return e.err }

// exitCode prints err the way every command does and maps it to the exit
// code; this is the only place that decides one.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	code, hint := classify(err)
	// Several problems (say, three bad recipients) get a line each.
	for _, line := range strings.Split(err.Error(), "\n") {
		if line != "" {
			fmt.Fprintf(stderr, "broadcast: error: %s\n", line)
		}
	}
	if hint != "" {
		for _, h := range strings.Split(hint, "\n") {
			fmt.Fprintf(stderr, "broadcast: hint: %s\n", h)
		}
	}
	return code
}

func classify(err error) (int, string) {
	var outcome *outcomeError
	if errors.As(err, &outcome) {
		return outcome.code, outcome.hint
	}
	var hint string
	var h *hinted
	if errors.As(err, &h) {
		hint = h.hint
	}
	for _, c := range []func(error, string) (int, string, bool){classifyInput, classifyLogin, classifyState} {
		if code, text, ok := c(err, hint); ok {
			return code, text
		}
	}
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, context.Canceled):
		return exitInterrupted, ""
	case errors.As(err, &pathErr) && errors.Is(err, fs.ErrNotExist):
		return exitUsage, hint
	}
	return exitFailure, hint
}

// classifyInput: bad input of any kind, exit 2.
func classifyInput(err error, hint string) (int, string, bool) {
	var (
		usage   *usageError
		tooLong *telegram.TooLongError
	)
	switch {
	case errors.As(err, &usage):
		if usage.hint != "" {
			hint = usage.hint
		}
		return exitUsage, hint, true
	case errors.As(err, new(*config.Error)):
		return exitUsage, "fix the config file, or see config.example.yaml for every key", true
	case errors.As(err, new(*recipient.Error)):
		return exitUsage, "recipients are @username, t.me/username, +15551234567, a cached numeric id, or me; chats are @name or t.me/c/ID, a forum topic @name/TOPIC", true
	case errors.As(err, &tooLong) && tooLong.Caption:
		// --split does not go with --attach: do not suggest it.
		return exitUsage, "shorten the caption, or send the text as a message of its own and the file without it", true
	case errors.As(err, &tooLong):
		return exitUsage, "shorten the message, or add --split to send it as several messages", true
	case errors.As(err, new(*telegram.EntityTooLongError)):
		return exitUsage, "shorten that formatted passage or remove its formatting; --split cuts only outside formatting", true
	case errors.As(err, new(*telegram.MarkupError)):
		return exitUsage, "fix the markup, or send it as it is with --parse-mode plain", true
	case errors.As(err, new(*telegram.TemplateError)):
		return exitUsage, "placeholders are {first_name}, {last_name} and {username}", true
	case errors.Is(err, telegram.ErrSplitMedia):
		return exitUsage, "--split cannot be combined with --attach: a caption is one message; send the long text on its own", true
	case errors.As(err, new(*telegram.AttachmentError)), errors.Is(err, telegram.ErrBadParseMode):
		return exitUsage, hint, true
	case errors.Is(err, telegram.ErrEmptyMessage):
		return exitUsage, "give the message as an argument, with --message-file, or on stdin", true
	case errors.Is(err, telegram.ErrNoCredentials):
		return exitUsage, "get api_id and api_hash at https://my.telegram.org, then set them in the config or with --api-id/--api-hash (BROADCAST_API_ID/BROADCAST_API_HASH)", true
	case errors.As(err, new(*telegram.ProxyURLError)):
		return exitUsage, "--proxy (BROADCAST_PROXY) takes socks5://user:pass@host:port or an MTProxy link tg://proxy?server=HOST&port=PORT&secret=HEX", true
	case errors.As(err, new(*telegram.SessionStringError)):
		return exitUsage, "pipe in the whole line printed by `broadcast session export`", true
	case errors.Is(err, telegram.ErrBadServerKey):
		return exitUsage, "--server-key must be a PEM file with the server's RSA public key", true
	case errors.Is(err, telegram.ErrBadPhone):
		return exitUsage, "give the number in international form, e.g. --phone +15551234567", true
	case errors.Is(err, telegram.ErrBadBotToken):
		return exitUsage, "a bot token looks like 123456:ABC-DEF…, from @BotFather", true
	}
	return 0, "", false
}

// classifyLogin: no usable session, exit 4.
func classifyLogin(err error, _ string) (int, string, bool) {
	switch {
	case errors.Is(err, telegram.ErrNotLoggedIn):
		return exitAuth, "run `broadcast login` first", true
	case errors.Is(err, telegram.ErrSessionDamaged):
		return exitAuth, "run `broadcast login` to replace it", true
	case errors.Is(err, telegram.ErrSessionRevoked):
		return exitAuth, sessionEndedHint(err), true
	case errors.Is(err, telegram.ErrBadCode), errors.Is(err, telegram.ErrBadPassword):
		return exitAuth, "run `broadcast login` again", true
	case errors.Is(err, telegram.ErrNeedsSignUp):
		return exitAuth, "create the account in a Telegram app first, then log in here", true
	}
	return classifyLoginRefusal(err)
}

// classifyState: the state dir and the connection, exit 1.
func classifyState(err error, _ string) (int, string, bool) {
	var (
		corrupt     *store.CorruptError
		perm        *store.PermissionError
		notWritable *store.NotWritableError
		connErr     *telegram.ConnectError
	)
	switch {
	case errors.As(err, new(*store.LockedError)):
		return exitFailure, "wait for it to finish (send --wait does), or use another --state-dir", true
	case errors.As(err, new(*store.SymlinkError)):
		return exitFailure, "use a real directory and file: --state-dir (BROADCAST_STATE_DIR) names another place, or move the link aside", true
	case errors.As(err, &notWritable) && notWritable.Mode != 0 && notWritable.Mode.Perm()&0o200 == 0:
		return exitFailure, fmt.Sprintf("run: chmod u+w %s", notWritable.Path), true
	case errors.As(err, &notWritable):
		return exitFailure, "make it writable, or use another --state-dir (BROADCAST_STATE_DIR)", true
	case errors.As(err, &perm):
		return exitFailure, fmt.Sprintf("run: chmod %s %s", permFix(perm), perm.Path), true
	case errors.As(err, &corrupt):
		return exitFailure, fmt.Sprintf("move %s aside and run `broadcast login` again; the file was not changed", corrupt.Path), true
	case errors.As(err, new(*telegram.ProxyError)) && !errors.As(err, &connErr):
		return exitFailure, "check the proxy's address, user name and password in --proxy (BROADCAST_PROXY)", true
	case errors.As(err, &connErr):
		return exitFailure, "check the address, the network and any --proxy; --timeout sets how long to wait", true
	}
	return 0, "", false
}

func permFix(e *store.PermissionError) string {
	if e.Mode.IsDir() {
		return "700"
	}
	return "600"
}
