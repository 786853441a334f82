package telegram

import (
	"context"
	"fmt"

	"github.com/gotd/td/telegram/message"
	"github.com/gotd/td/telegram/message/html"
	"github.com/gotd/td/telegram/message/markdown"
	"github.com/gotd/td/telegram/message/styling"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// Send sends m to p with the given random_id and returns the message id.
// The caller picks the random_id so every retry of this send, in this
// process or after a crash, carries the same one and Telegram keeps one copy.
// Errors are classified for the fan-out engine.
func (c *Client) Send(ctx context.Context, p store.Peer, m *Message, randomID int64) (int, error) {
	b := message.NewSender(c.api).To(inputPeer(p)).RandomID(randomID)
	if m.Content.Silent {
		b = b.Silent()
	}
	if m.Content.NoPreview {
		b = b.NoWebpage()
	}
	if !m.Content.Schedule.IsZero() {
		b = b.Schedule(m.Content.Schedule)
	}
	upd, err := b.StyledText(ctx, m.styled())
	if tgerr.Is(err, "RANDOM_ID_DUPLICATE") {
		// Some servers answer a repeated random_id with this instead of the
		// original message: it was delivered before.
		return 0, nil
	}
	if err != nil {
		return 0, classify(err)
	}
	return messageID(upd, randomID)
}

// styled is the content as gotd's message builder takes it: the same parser
// that Prepare checked, run again by the builder for this send.
func (m *Message) styled() styling.StyledTextOption {
	switch m.Content.ParseMode {
	case ParseHTML:
		return html.String(nil, m.Content.Text)
	case ParseMarkdown:
		return markdown.String(nil, m.Content.Text)
	default:
		return styling.Plain(m.Content.Text)
	}
}

// messageID finds the id Telegram gave the message sent with randomID.
func messageID(upd tg.UpdatesClass, randomID int64) (int, error) {
	switch u := upd.(type) {
	case *tg.UpdateShortSentMessage:
		return u.ID, nil
	case *tg.Updates:
		return idFromUpdates(u.Updates, randomID)
	case *tg.UpdatesCombined:
		return idFromUpdates(u.Updates, randomID)
	}
	return 0, fmt.Errorf("unexpected answer %T to a send", upd)
}

func idFromUpdates(ups []tg.UpdateClass, randomID int64) (int, error) {
	for _, u := range ups {
		if v, ok := u.(*tg.UpdateMessageID); ok && v.RandomID == randomID {
			return v.ID, nil
		}
	}
	// updateMessageID is missing in some answers; the new message (or the
	// scheduled one, which gotd's unpack ignores) carries the id.
	for _, u := range ups {
		switch v := u.(type) {
		case *tg.UpdateNewMessage:
			return v.Message.GetID(), nil
		case *tg.UpdateNewChannelMessage:
			return v.Message.GetID(), nil
		case *tg.UpdateNewScheduledMessage:
			return v.Message.GetID(), nil
		}
	}
	return 0, fmt.Errorf("no message id in the answer")
}
