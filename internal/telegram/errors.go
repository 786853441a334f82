package telegram

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gotd/td/tgerr"

	"github.com/broadcast-cli/broadcast/internal/fanout"
)

// RPCError is a Telegram error that fails one recipient, with a plain-words
// explanation for the report.
type RPCError struct {
	Type   string // e.g. USERNAME_NOT_OCCUPIED
	Detail string
	Err    error
}

func (e *RPCError) Error() string {
	if e.Detail == "" {
		return e.Type
	}
	return e.Type + ": " + e.Detail
}

func (e *RPCError) Unwrap() error { return e.Err }

// ErrSpamLimited: PEER_FLOOD. Telegram limits the account for messaging too
// many people; retrying only extends the limit, so the run stops.
var ErrSpamLimited = errors.New("Telegram has limited this account for sending to too many people (PEER_FLOOD)")

// ErrAccountFrozen: FROZEN_METHOD_INVALID, the account is frozen.
var ErrAccountFrozen = errors.New("Telegram has frozen this account (FROZEN_METHOD_INVALID)")

// details explain the errors a recipient can fail with.
var details = map[string]string{
	"USERNAME_NOT_OCCUPIED":    "no Telegram user has this username",
	"USERNAME_INVALID":         "this is not a valid Telegram username",
	"PHONE_NOT_OCCUPIED":       "no Telegram user has this phone number",
	"USER_IS_BLOCKED":          "this user has blocked the account",
	"YOU_BLOCKED_USER":         "the account has blocked this user",
	"INPUT_USER_DEACTIVATED":   "this user's account was deleted",
	"CHAT_WRITE_FORBIDDEN":     "the account may not write in this chat (not a member, or not allowed to post)",
	"PRIVACY_PREMIUM_REQUIRED": "this user accepts messages only from Premium accounts",
	"CHANNEL_PRIVATE":          "this channel or group is private and the account is not in it (left, removed or banned)",
	"USER_BANNED_IN_CHANNEL":   "the account is banned from sending messages in supergroups and channels",
	// Groups, channels and topics (gotd's schema docs for the sends).
	"CHAT_ADMIN_REQUIRED":         "only the channel's admins may post here, and the account is not one with that right",
	"CHAT_RESTRICTED":             "the account is restricted in this chat and may not send messages",
	"CHAT_SEND_PLAIN_FORBIDDEN":   "this chat does not allow text messages; send the message with an attachment",
	"CHAT_SEND_MEDIA_FORBIDDEN":   "this chat does not allow media; send the message without attachments",
	"CHAT_SEND_PHOTOS_FORBIDDEN":  "this chat does not allow photos",
	"CHAT_SEND_DOCS_FORBIDDEN":    "this chat does not allow files",
	"TOPIC_CLOSED":                "this forum topic is closed: no new messages may go to it",
	"TOPIC_DELETED":               "this forum topic was deleted",
	"CHAT_ID_INVALID":             "no basic group has this id (a supergroup or channel is written -100…, or t.me/c/…)",
	"CHAT_FORBIDDEN":              "the account is no longer a member of this group",
	"CHANNEL_INVALID":             "Telegram does not know this channel (a wrong id or access hash)",
	"REPLY_TO_INVALID":            "the topic is not valid in this chat",
	"SLOWMODE_WAIT":               "this chat is in slow mode",
	"PEER_ID_INVALID":             "Telegram does not accept this peer (unknown id or stale access hash)",
	"MESSAGE_EMPTY":               "the message is empty",
	"MESSAGE_TOO_LONG":            "the message is longer than Telegram allows",
	"MEDIA_CAPTION_TOO_LONG":      "the caption is longer than Telegram allows",
	"SCHEDULE_DATE_INVALID":       "the schedule time is not valid",
	"SCHEDULE_DATE_TOO_LATE":      "the schedule time is too far ahead",
	"SCHEDULE_TOO_MUCH":           "the chat has too many scheduled messages",
	"USER_IS_BOT":                 "bots cannot message other bots",
	"BOT_METHOD_INVALID":          "bots cannot do this",
	"INPUT_METHOD_INVALID":        "the server does not support this request",
	"PHOTO_INVALID_DIMENSIONS":    "the photo's dimensions are not accepted",
	"FILE_PARTS_INVALID":          "the upload was incomplete",
	"ENTITY_BOUNDS_INVALID":       "a formatting entity is out of bounds",
	"ENTITY_MENTION_USER_INVALID": "a mention names an unknown user",
}

// temporaryTypes are 4xx errors that are worth another try.
var temporaryTypes = map[string]bool{
	"TIMEOUT":                       true,
	"RPC_CALL_FAIL":                 true,
	"RPC_MCGET_FAIL":                true,
	"MSG_WAIT_FAILED":               true,
	"PERSISTENT_TIMESTAMP_OUTDATED": true,
}

// sessionDead are the errors after which the saved session cannot be used.
var sessionDead = map[string]bool{
	"AUTH_KEY_UNREGISTERED": true,
	"AUTH_KEY_INVALID":      true,
	"SESSION_REVOKED":       true,
	"SESSION_EXPIRED":       true,
	"USER_DEACTIVATED":      true,
	"USER_DEACTIVATED_BAN":  true,
	"AUTH_KEY_DUPLICATED":   true,
	"AUTH_KEY_PERM_EMPTY":   true,
}

// classify turns a gotd error into the fan-out engine's kinds: this is the
// one table of Telegram errors, and the engine never sees tgerr.
//
//	flood wait (FLOOD_WAIT_X, FLOOD_PREMIUM_WAIT_X) → *fanout.FloodWaitError
//	PEER_FLOOD, frozen account, dead session        → fanout.Fatal
//	5xx, timeouts, lost connections                 → fanout.Temporary
//	any other Telegram error                        → *RPCError, permanent
func classify(err error) error {
	if err == nil {
		return nil
	}
	if d, ok := tgerr.AsFloodWait(err); ok {
		return &fanout.FloodWaitError{Wait: d, Err: err}
	}
	var rpc *tgerr.Error
	if !errors.As(err, &rpc) {
		// Not an answer from Telegram: the connection dropped, the answer
		// was lost, a timeout. The send carries a fixed random_id, so
		// trying again cannot deliver twice.
		return fanout.Temporary(err)
	}
	switch {
	case rpc.Type == "PEER_FLOOD":
		return fanout.Fatal(fmt.Errorf("%w: %w", ErrSpamLimited, err))
	case rpc.Type == "FROZEN_METHOD_INVALID":
		return fanout.Fatal(fmt.Errorf("%w: %w", ErrAccountFrozen, err))
	case sessionDead[rpc.Type] || rpc.Code == 401:
		return fanout.Fatal(&SessionEndedError{Type: rpc.Type})
	case rpc.Type == "SLOWMODE_WAIT":
		// Per chat, not per account: retry this one later, keep the others going.
		return fanout.Temporary(err)
	case rpc.Code >= 500 || rpc.Code < 0 || temporaryTypes[strings.ToUpper(rpc.Type)]:
		// Telegram reports its own timeouts as -503 "Timeout".
		return fanout.Temporary(err)
	}
	return &RPCError{Type: rpc.Type, Detail: details[rpc.Type], Err: err}
}
