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
	var (
		usage       *usageError
		outcome     *outcomeError
		hint        *hinted
		locked      *store.LockedError
		corrupt     *store.CorruptError
		perm        *store.PermissionError
		notWritable *store.NotWritableError
		cfgErr      *config.Error
		recErr      *recipient.Error
		tooLong     *telegram.TooLongError
		markup      *telegram.MarkupError
		connErr     *telegram.ConnectError
		pathErr     *fs.PathError
		hintText    string
	)
	if errors.As(err, &hint) {
		hintText = hint.hint
	}
	switch {
	case errors.As(err, &outcome):
		return outcome.code, outcome.hint
	case errors.As(err, &usage):
		if usage.hint != "" {
			hintText = usage.hint
		}
		return exitUsage, hintText
	case errors.As(err, &cfgErr):
		return exitUsage, "fix the config file, or see config.example.yaml for every key"
	case errors.As(err, &recErr):
		return exitUsage, "recipients are @username, t.me/username, +15551234567, a cached numeric id, or me"
	case errors.As(err, &tooLong) && tooLong.Caption:
		// --split does not go with --attach: do not suggest it.
		return exitUsage, "shorten the caption, or send the text as a message of its own and the file without it"
	case errors.As(err, &tooLong):
		return exitUsage, "shorten the message, or add --split to send it as several messages"
	case errors.As(err, new(*telegram.EntityTooLongError)):
		return exitUsage, "shorten that formatted passage or remove its formatting; --split cuts only outside formatting"
	case errors.As(err, &markup):
		return exitUsage, "fix the markup, or send it as it is with --parse-mode plain"
	case errors.As(err, new(*telegram.TemplateError)):
		return exitUsage, "placeholders are {first_name}, {last_name} and {username}"
	case errors.As(err, new(*telegram.AttachmentError)), errors.Is(err, telegram.ErrSplitMedia):
		return exitUsage, hintText
	case errors.Is(err, telegram.ErrBadParseMode):
		return exitUsage, ""
	case errors.Is(err, telegram.ErrEmptyMessage):
		return exitUsage, "give the message as an argument, with --message-file, or on stdin"
	case errors.Is(err, telegram.ErrNoCredentials):
		return exitUsage, "get api_id and api_hash at https://my.telegram.org, then set them in the config or with --api-id/--api-hash (BROADCAST_API_ID/BROADCAST_API_HASH)"
	case errors.As(err, new(*telegram.ProxyURLError)):
		return exitUsage, "--proxy (BROADCAST_PROXY) takes socks5://user:pass@host:port or an MTProxy link tg://proxy?server=HOST&port=PORT&secret=HEX"
	case errors.As(err, new(*telegram.SessionStringError)):
		return exitUsage, "pipe in the whole line printed by `broadcast session export`"
	case errors.Is(err, telegram.ErrBadServerKey):
		return exitUsage, "--server-key must be a PEM file with the server's RSA public key"
	case errors.Is(err, telegram.ErrNotLoggedIn):
		return exitAuth, "run `broadcast login` first"
	case errors.Is(err, telegram.ErrSessionDamaged):
		return exitAuth, "run `broadcast login` to replace it"
	case errors.Is(err, telegram.ErrSessionRevoked):
		return exitAuth, "the server ended this session: run `broadcast login` again"
	case errors.Is(err, telegram.ErrBadPhone):
		// Input, not the session: exit 2 as for any bad argument.
		return exitUsage, "give the number in international form, e.g. --phone +15551234567"
	case errors.Is(err, telegram.ErrBadBotToken):
		return exitUsage, "a bot token looks like 123456:ABC-DEF…, from @BotFather"
	case errors.Is(err, telegram.ErrBadCode), errors.Is(err, telegram.ErrBadPassword), errors.Is(err, telegram.ErrCodeExpired):
		return exitAuth, "run `broadcast login` again"
	case errors.Is(err, telegram.ErrNeedsSignUp):
		return exitAuth, "create the account in a Telegram app first, then log in here"
	case errors.As(err, &locked):
		return exitFailure, "wait for it to finish, or use another --state-dir"
	case errors.As(err, new(*store.SymlinkError)):
		return exitFailure, "use a real directory and file: --state-dir (BROADCAST_STATE_DIR) names another place, or move the link aside"
	case errors.As(err, &notWritable):
		if notWritable.Mode != 0 && notWritable.Mode.Perm()&0o200 == 0 {
			return exitFailure, fmt.Sprintf("run: chmod u+w %s", notWritable.Path)
		}
		return exitFailure, "make it writable, or use another --state-dir (BROADCAST_STATE_DIR)"
	case errors.As(err, &perm):
		return exitFailure, fmt.Sprintf("run: chmod %s %s", permFix(perm), perm.Path)
	case errors.As(err, &corrupt):
		return exitFailure, fmt.Sprintf("move %s aside and run `broadcast login` again; the file was not changed", corrupt.Path)
	case errors.As(err, new(*telegram.ProxyError)) && !errors.As(err, &connErr):
		return exitFailure, "check the proxy's address, user name and password in --proxy (BROADCAST_PROXY)"
	case errors.As(err, &connErr):
		return exitFailure, "check the address, the network and any --proxy; --timeout sets how long to wait"
	case errors.Is(err, context.Canceled):
		return exitInterrupted, ""
	case errors.As(err, &pathErr) && errors.Is(err, fs.ErrNotExist):
		return exitUsage, hintText
	}
	return exitFailure, hintText
}

func permFix(e *store.PermissionError) string {
	if e.Mode.IsDir() {
		return "700"
	}
	return "600"
}
