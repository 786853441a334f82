package telegram

import (
	"testing"

	"github.com/gotd/td/tg"
)

func TestMessageIDShortSent(t *testing.T) {
	id, err := messageID(&tg.UpdateShortSentMessage{ID: 42}, 7)
	if err != nil || id != 42 {
		t.Fatalf("got %d, %v; want 42", id, err)
	}
}

func TestMessageIDMatchesRandomID(t *testing.T) {
	const rid = int64(-123456789)
	upd := &tg.Updates{Updates: []tg.UpdateClass{
		&tg.UpdateMessageID{ID: 11, RandomID: 999}, // another send's
		&tg.UpdateNewMessage{Message: &tg.Message{ID: 11}},
		&tg.UpdateMessageID{ID: 12, RandomID: rid},
		&tg.UpdateNewMessage{Message: &tg.Message{ID: 12}},
	}}
	id, err := messageID(upd, rid)
	if err != nil || id != 12 {
		t.Fatalf("got %d, %v; want 12", id, err)
	}
	// The same in UpdatesCombined.
	comb := &tg.UpdatesCombined{Updates: upd.Updates}
	id, err = messageID(comb, rid)
	if err != nil || id != 12 {
		t.Fatalf("combined: got %d, %v; want 12", id, err)
	}
}

func TestMessageIDFallbacks(t *testing.T) {
	cases := []struct {
		name string
		ups  []tg.UpdateClass
		want int
	}{
		{"scheduled", []tg.UpdateClass{&tg.UpdateNewScheduledMessage{Message: &tg.Message{ID: 77}}}, 77},
		{"new message", []tg.UpdateClass{&tg.UpdateNewMessage{Message: &tg.Message{ID: 78}}}, 78},
		{"channel message", []tg.UpdateClass{&tg.UpdateNewChannelMessage{Message: &tg.Message{ID: 79}}}, 79},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := messageID(&tg.Updates{Updates: c.ups}, 5)
			if err != nil || id != c.want {
				t.Fatalf("got %d, %v; want %d", id, err, c.want)
			}
		})
	}
}

func TestMessageIDErrors(t *testing.T) {
	cases := []struct {
		name string
		upd  tg.UpdatesClass
	}{
		{"too long", &tg.UpdatesTooLong{}},
		{"short message", &tg.UpdateShortMessage{ID: 3}},
		{"no id in updates", &tg.Updates{}},
		{"only another random id", &tg.Updates{Updates: []tg.UpdateClass{&tg.UpdateMessageID{ID: 9, RandomID: 1}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := messageID(c.upd, 2)
			if err == nil {
				t.Fatalf("got id %d, want an error", id)
			}
		})
	}
}
