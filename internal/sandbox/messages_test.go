package sandbox

// messages_test.go: sends (messages.go, media.go): blocked users, the
// random_id dedupe under concurrency and lost answers, the send rate, and
// uploads sent by reference.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

func TestBlockedUser(t *testing.T) {
	s := start(t, Options{Users: 3, Blocked: []int{2}})
	c := loggedIn(t, s)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		u, err := resolve(ctx, api, "friend2")
		if err != nil {
			return err
		}
		_, err = api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "hi", RandomID: 9})
		if !tgerr.Is(err, "USER_IS_BLOCKED") {
			return fmt.Errorf("got %v", err)
		}
		return nil
	})
}

func TestConcurrentSendsAndRandomIDDedupe(t *testing.T) {
	const n = 50
	s := start(t, Options{Users: n})
	c := loggedIn(t, s)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := 1; i <= n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u, err := resolve(ctx, api, fmt.Sprintf("friend%d", i))
				if err != nil {
					errs <- err
					return
				}
				req := &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "I bought a car!", RandomID: int64(7000 + i)}
				first, err := api.MessagesSendMessage(ctx, req)
				if err != nil {
					errs <- err
					return
				}
				// The same random_id again: the original message, not a new one.
				again, err := api.MessagesSendMessage(ctx, req)
				if err != nil {
					errs <- err
					return
				}
				a, b := first.(*tg.UpdateShortSentMessage), again.(*tg.UpdateShortSentMessage)
				if a.ID != b.ID {
					errs <- fmt.Errorf("friend%d: repeat got id %d, first %d", i, b.ID, a.ID)
				}
			}()
		}
		wg.Wait()
		close(errs)
		return errors.Join(drain(errs)...)
	})
	for i := 1; i <= n; i++ {
		in := s.Inbox(fmt.Sprintf("friend%d", i))
		if len(in) != 1 || in[0].Text != "I bought a car!" || in[0].RandomID != int64(7000+i) {
			t.Fatalf("friend%d inbox = %+v", i, in)
		}
	}
}

func drain(ch chan error) []error {
	var out []error
	for e := range ch {
		out = append(out, e)
	}
	return out
}

func TestFloodWait(t *testing.T) {
	s := start(t, Options{Users: 5, SendRate: 2})
	c := loggedIn(t, s)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		u, err := resolve(ctx, api, "friend1")
		if err != nil {
			return err
		}
		var flood error
		for i := 1; i <= 5 && flood == nil; i++ {
			_, flood = api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "x", RandomID: int64(i)})
		}
		d, ok := tgerr.AsFloodWait(flood)
		if !ok || d != time.Second {
			return fmt.Errorf("want FLOOD_WAIT_1 within 5 sends at 2/s, got %v", flood)
		}
		return nil
	})
	if s.FloodWaits() != 1 || len(s.Inbox("friend1")) != 2 {
		t.Errorf("flood waits %d, delivered %d; want 1 and 2", s.FloodWaits(), len(s.Inbox("friend1")))
	}
}

// A lost answer without an acknowledgement: gotd resends on its new
// connection, and the random_id keeps it to one message.
func TestDroppedAnswerIsResentByGotd(t *testing.T) {
	s := start(t, Options{Users: 20, DropAnswer: 0.3, Seed: 7})
	c := loggedIn(t, s)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		for i := 1; i <= 20; i++ {
			u, err := resolve(ctx, api, fmt.Sprintf("friend%d", i))
			if err != nil {
				return err
			}
			if _, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "hi", RandomID: int64(i)}); err != nil {
				return fmt.Errorf("friend%d: %w", i, err)
			}
		}
		return nil
	})
	if s.DroppedAnswers() == 0 {
		t.Fatal("no answer was dropped; the test proves nothing")
	}
	for i := 1; i <= 20; i++ {
		if n := len(s.Inbox(fmt.Sprintf("friend%d", i))); n != 1 {
			t.Errorf("friend%d has %d copies", i, n)
		}
	}
}

// A lost answer after an acknowledgement: gotd gives up, and only a retry
// with the same random_id (the tool's job) completes the send exactly once.
func TestDroppedAckedAnswerNeedsCallerRetry(t *testing.T) {
	s := start(t, Options{Users: 20, DropAnswer: 0.3, AckBeforeDrop: true, Seed: 11})
	c := loggedIn(t, s)
	failures := 0
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		for i := 1; i <= 20; i++ {
			u, err := resolve(ctx, api, fmt.Sprintf("friend%d", i))
			for err != nil {
				u, err = resolve(ctx, api, fmt.Sprintf("friend%d", i))
			}
			req := &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "hi", RandomID: int64(i)}
			for attempt := 0; ; attempt++ {
				_, err := api.MessagesSendMessage(ctx, req)
				if err == nil {
					break
				}
				if ctx.Err() != nil || attempt > 50 {
					return fmt.Errorf("friend%d: %w", i, err)
				}
				failures++
			}
		}
		return nil
	})
	if failures == 0 {
		t.Fatal("no send failed after an acknowledged drop; the test proves nothing")
	}
	for i := 1; i <= 20; i++ {
		if n := len(s.Inbox(fmt.Sprintf("friend%d", i))); n != 1 {
			t.Errorf("friend%d has %d copies", i, n)
		}
	}
}

func TestUploadAndSendByReference(t *testing.T) {
	s := start(t, Options{Users: 3})
	c := loggedIn(t, s)
	data := make([]byte, 700*1024) // two parts
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		for part := 0; part < 2; part++ {
			chunk := data[part*512*1024 : min(len(data), (part+1)*512*1024)]
			if _, err := api.UploadSaveFilePart(ctx, &tg.UploadSaveFilePartRequest{FileID: 42, FilePart: part, Bytes: chunk}); err != nil {
				return err
			}
		}
		u1, _ := resolve(ctx, api, "friend1")
		u2, _ := resolve(ctx, api, "friend2")
		res, err := api.MessagesSendMedia(ctx, &tg.MessagesSendMediaRequest{
			Peer: peer(u1), RandomID: 1, Message: "car.pdf",
			Media: &tg.InputMediaUploadedDocument{File: &tg.InputFile{ID: 42, Parts: 2, Name: "car.pdf"}, MimeType: "application/pdf"},
		})
		if err != nil {
			return err
		}
		var doc *tg.Document
		for _, u := range res.(*tg.Updates).Updates {
			if m, ok := u.(*tg.UpdateNewMessage); ok {
				doc = m.Message.(*tg.Message).Media.(*tg.MessageMediaDocument).Document.(*tg.Document)
			}
		}
		_, err = api.MessagesSendMedia(ctx, &tg.MessagesSendMediaRequest{
			Peer: peer(u2), RandomID: 2, Message: "car.pdf",
			Media: &tg.InputMediaDocument{ID: &tg.InputDocument{ID: doc.ID, AccessHash: doc.AccessHash, FileReference: doc.FileReference}},
		})
		return err
	})
	if s.UploadedBytes() != int64(len(data)) {
		t.Errorf("uploaded %d bytes, want %d", s.UploadedBytes(), len(data))
	}
	a, b := s.Inbox("friend1"), s.Inbox("friend2")
	if len(a) != 1 || len(b) != 1 || a[0].Media == nil || b[0].Media == nil || a[0].Media.ID != b[0].Media.ID || a[0].Media.Size != int64(len(data)) {
		t.Fatalf("inboxes: %+v / %+v", a, b)
	}
}
