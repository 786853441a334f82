package telegram

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/gotd/td/telegram/uploader"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// Upload uploads every attachment once with gotd's uploader and turns each
// into a reference (messages.uploadMedia to the account's own chat), so the
// same uploaded photo or document is sent to every recipient instead of the
// file being uploaded once per recipient.
func (c *Client) Upload(ctx context.Context, m *Message) error {
	if len(m.files) == 0 || len(m.media) == len(m.files) {
		return nil
	}
	up := uploader.NewUploader(c.api)
	media := make([]tg.InputMediaClass, 0, len(m.files))
	for _, a := range m.files {
		f, err := up.FromPath(ctx, a.path)
		if err != nil {
			return fmt.Errorf("upload %s: %w", a.path, err)
		}
		var in tg.InputMediaClass
		if a.photo {
			in = &tg.InputMediaUploadedPhoto{File: f}
		} else {
			in = &tg.InputMediaUploadedDocument{
				File:       f,
				MimeType:   a.mime,
				Attributes: []tg.DocumentAttributeClass{&tg.DocumentAttributeFilename{FileName: a.name}},
				ForceFile:  true,
			}
		}
		res, err := c.api.MessagesUploadMedia(ctx, &tg.MessagesUploadMediaRequest{Peer: &tg.InputPeerSelf{}, Media: in})
		if err != nil {
			return fmt.Errorf("upload %s: %w", a.path, err)
		}
		ref, err := reference(res)
		if err != nil {
			return fmt.Errorf("upload %s: %w", a.path, err)
		}
		media = append(media, ref)
	}
	m.media = media
	return nil
}

// reference turns uploaded media into an input that sends it by id.
func reference(res tg.MessageMediaClass) (tg.InputMediaClass, error) {
	switch v := res.(type) {
	case *tg.MessageMediaPhoto:
		p, ok := v.Photo.(*tg.Photo)
		if !ok {
			return nil, fmt.Errorf("the server returned no photo")
		}
		return &tg.InputMediaPhoto{ID: &tg.InputPhoto{ID: p.ID, AccessHash: p.AccessHash, FileReference: p.FileReference}}, nil
	case *tg.MessageMediaDocument:
		d, ok := v.Document.(*tg.Document)
		if !ok {
			return nil, fmt.Errorf("the server returned no document")
		}
		return &tg.InputMediaDocument{ID: &tg.InputDocument{ID: d.ID, AccessHash: d.AccessHash, FileReference: d.FileReference}}, nil
	}
	return nil, fmt.Errorf("unexpected uploaded media %T", res)
}

// Send sends m to p and returns the ids of its messages, one per part (a
// split text's parts, an album's files). randomID(i) is the random_id of
// part i: the caller derives it so every retry, in this process or after a
// crash, carries the same ones and Telegram keeps one copy. The requests are
// built here rather than by gotd's message builder because they carry
// precomputed entities (split parts, filled templates) and, for albums,
// random_ids the builder would otherwise draw afresh. Errors are classified
// for the fan-out engine.
func (c *Client) Send(ctx context.Context, p store.Peer, m *Message, randomID func(part int) int64) ([]int, error) {
	return c.send(ctx, p, 0, m, randomID, nil)
}

// send is Send to a forum topic of p (0: the chat itself), each message
// paced per chat by pc (nil: not paced; see pacing.go).
func (c *Client) send(ctx context.Context, p store.Peer, topic int, m *Message, randomID func(part int) int64, pc *pacing) ([]int, error) {
	r, err := m.forPeer(p)
	if err != nil {
		// A filled template over the limit fails this recipient only.
		return nil, &RPCError{Type: "MESSAGE_TOO_LONG", Detail: err.Error(), Err: err}
	}
	peer := inputPeer(p)
	reply := replyTo(topic)
	schedule := 0
	if !m.Content.Schedule.IsZero() {
		schedule = int(m.Content.Schedule.Unix())
	}
	switch {
	case len(m.files) > 0 && len(m.media) != len(m.files):
		return nil, fanout.Fatal(fmt.Errorf("attachments were not uploaded"))
	case len(m.media) == 1:
		rid := randomID(0)
		var ids []int
		err := pc.do(ctx, p, func() error {
			upd, err := c.api.MessagesSendMedia(ctx, &tg.MessagesSendMediaRequest{
				Peer: peer, Media: m.media[0], Message: r.parts[0].text, Entities: r.parts[0].entities,
				RandomID: rid, Silent: m.Content.Silent, ScheduleDate: schedule, ReplyTo: reply,
			})
			ids, err = answer(upd, err, rid)
			return err
		})
		return ids, err
	case len(m.media) > 1:
		multi := make([]tg.InputSingleMedia, len(m.media))
		rids := make([]int64, len(m.media))
		for i, media := range m.media {
			rids[i] = randomID(i)
			multi[i] = tg.InputSingleMedia{Media: media, RandomID: rids[i]}
		}
		// The caption goes with the first file, as Telegram's apps do it.
		multi[0].Message, multi[0].Entities = r.parts[0].text, r.parts[0].entities
		var ids []int
		err := pc.do(ctx, p, func() error {
			upd, err := c.api.MessagesSendMultiMedia(ctx, &tg.MessagesSendMultiMediaRequest{
				Peer: peer, MultiMedia: multi, Silent: m.Content.Silent, ScheduleDate: schedule, ReplyTo: reply,
			})
			ids, err = answer(upd, err, rids...)
			return err
		})
		return ids, err
	}
	var ids []int
	for i, pt := range r.parts {
		rid := randomID(i)
		var id []int
		err := pc.do(ctx, p, func() error {
			upd, err := c.api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{
				Peer: peer, Message: pt.text, Entities: pt.entities, RandomID: rid,
				Silent: m.Content.Silent, NoWebpage: m.Content.NoPreview, ScheduleDate: schedule, ReplyTo: reply,
			})
			id, err = answer(upd, err, rid)
			return err
		})
		if err != nil {
			return ids, err
		}
		ids = append(ids, id...)
	}
	return ids, nil
}

// answer finds the message id of every random_id in a send's answer. An id
// Telegram does not give back is 0: the message exists, its id is unknown.
func answer(upd tg.UpdatesClass, err error, randomIDs ...int64) ([]int, error) {
	if tgerr.Is(err, "RANDOM_ID_DUPLICATE") {
		// Some servers answer a repeated random_id with this instead of the
		// original message: it was delivered before.
		return make([]int, len(randomIDs)), nil
	}
	if err != nil {
		return nil, classify(err)
	}
	ids := make([]int, len(randomIDs))
	for i, rid := range randomIDs {
		if ids[i], err = messageID(upd, rid); err != nil {
			return nil, err
		}
	}
	return ids, nil
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

// detectMIME decides a file's type from its extension, else its content.
func detectMIME(path string, head []byte) string {
	if t := mime.TypeByExtension(strings.ToLower(filepath.Ext(path))); t != "" {
		t, _, _ = strings.Cut(t, ";")
		return t
	}
	t, _, _ := strings.Cut(http.DetectContentType(head), ";")
	return t
}
