package sandbox

// media.go owns files and media sends: upload.saveFilePart and
// upload.saveBigFilePart (part sizes only, no bytes kept), the photos and
// documents made from uploads, messages.uploadMedia, messages.sendMedia and
// messages.sendMultiMedia (albums). The checks and delivery they share with
// messages.sendMessage are in messages.go.

import (
	"fmt"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// uploadKey: file ids are chosen by the client, so they are per auth key.
type uploadKey struct {
	key    [8]byte
	fileID int64
}

// upload keeps only part sizes: the sandbox counts bytes, it does not store
// files.
type upload struct {
	parts map[int]int
}

// storedFile is a photo or document the server made from an upload; later
// sends can reference it by id and access hash.
type storedFile struct {
	kind       string
	id, hash   int64
	name, mime string
	size       int64
	owner      int64
}

// maxPartSize is the largest file part: 512 KiB
// (https://core.telegram.org/api/files; gotd's constant/uploads.go).
const maxPartSize = 512 * 1024

// saveFilePart answers upload.saveFilePart
// (https://core.telegram.org/method/upload.saveFilePart); see savePart.
func (s *Server) saveFilePart(c *call) (bin.Encoder, error) {
	var r tg.UploadSaveFilePartRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	if err := s.fileMigrate(c); err != nil {
		return nil, err
	}
	return s.savePart(c.key, r.FileID, r.FilePart, r.Bytes, c.req.DC)
}

// saveBigFilePart answers upload.saveBigFilePart
// (https://core.telegram.org/method/upload.saveBigFilePart): as
// saveFilePart, and FILE_PART_INVALID for a part number not below
// file_total_parts.
func (s *Server) saveBigFilePart(c *call) (bin.Encoder, error) {
	var r tg.UploadSaveBigFilePartRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	if r.FilePart >= r.FileTotalParts {
		return nil, tgerr.New(400, "FILE_PART_INVALID")
	}
	if err := s.fileMigrate(c); err != nil {
		return nil, err
	}
	return s.savePart(c.key, r.FileID, r.FilePart, r.Bytes, c.req.DC)
}

// savePart keeps a part's size. Part numbers 0 to 3999 and parts of at most
// 512 KiB follow https://core.telegram.org/api/files (gotd's
// constant/uploads.go); FILE_PART_INVALID and FILE_PART_SIZE_INVALID are in
// gotd's schema docs. Parts need not be of one size here, unlike on
// Telegram. dc is the DC that stores it, for the per-DC counters.
func (s *Server) savePart(key [8]byte, fileID int64, part int, data []byte, dc int) (bin.Encoder, error) {
	if part < 0 || part >= 4000 {
		return nil, tgerr.New(400, "FILE_PART_INVALID")
	}
	if len(data) == 0 || len(data) > maxPartSize {
		return nil, tgerr.New(400, "FILE_PART_SIZE_INVALID")
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	k := uploadKey{key: key, fileID: fileID}
	u := w.uploads[k]
	if u == nil {
		u = &upload{parts: map[int]int{}}
		w.uploads[k] = u
	}
	// A part that arrives again (gotd resends a request whose answer is
	// late) replaces the first copy (as on Telegram: a guess, not
	// documented) and is not a second upload: only the first copy of each
	// part is counted.
	if _, seen := u.parts[part]; !seen {
		w.uploadedBytes += int64(len(data))
		w.cl().uploaded[dc] += int64(len(data))
	}
	u.parts[part] = len(data)
	return &tg.BoolTrue{}, nil
}

// media turns an InputMedia into the stored file it names, creating one from
// an upload. Call with w.mu held. MEDIA_INVALID and DOCUMENT_INVALID are in
// gotd's schema docs for messages.sendMedia, PHOTO_INVALID for other photo
// methods; which one answers which mistake is a guess.
func (w *world) media(key [8]byte, self *User, in tg.InputMediaClass) (*storedFile, error) {
	switch v := in.(type) {
	case *tg.InputMediaUploadedPhoto:
		return w.fromUpload(key, self, v.File, "photo", "image/jpeg", nil)
	case *tg.InputMediaUploadedDocument:
		return w.fromUpload(key, self, v.File, "document", v.MimeType, v.Attributes)
	case *tg.InputMediaPhoto:
		p, ok := v.ID.(*tg.InputPhoto)
		if !ok {
			return nil, tgerr.New(400, "PHOTO_INVALID")
		}
		f := w.files[p.ID]
		if f == nil || f.kind != "photo" || f.hash != p.AccessHash {
			return nil, tgerr.New(400, "MEDIA_INVALID")
		}
		return f, nil
	case *tg.InputMediaDocument:
		d, ok := v.ID.(*tg.InputDocument)
		if !ok {
			return nil, tgerr.New(400, "DOCUMENT_INVALID")
		}
		f := w.files[d.ID]
		if f == nil || f.kind != "document" || f.hash != d.AccessHash {
			return nil, tgerr.New(400, "MEDIA_INVALID")
		}
		return f, nil
	default:
		return nil, tgerr.New(400, "MEDIA_INVALID")
	}
}

// fromUpload makes a stored file from an uploaded one: every part from 0
// to parts-1 must have arrived (FILE_PARTS_INVALID, and FILE_PART_X_MISSING
// as https://core.telegram.org/api/files names them).
func (w *world) fromUpload(key [8]byte, self *User, file tg.InputFileClass, kind, mime string, attrs []tg.DocumentAttributeClass) (*storedFile, error) {
	var (
		id    int64
		parts int
		name  string
	)
	switch f := file.(type) {
	case *tg.InputFile:
		id, parts, name = f.ID, f.Parts, f.Name
	case *tg.InputFileBig:
		id, parts, name = f.ID, f.Parts, f.Name
	default:
		return nil, tgerr.New(400, "FILE_PARTS_INVALID")
	}
	u := w.findUpload(key, self, id)
	if u == nil || parts <= 0 {
		return nil, tgerr.New(400, "FILE_PARTS_INVALID")
	}
	var size int64
	for i := 0; i < parts; i++ {
		n, ok := u.parts[i]
		if !ok {
			return nil, tgerr.New(400, fmt.Sprintf("FILE_PART_%d_MISSING", i))
		}
		size += int64(n)
	}
	for _, a := range attrs {
		if fn, ok := a.(*tg.DocumentAttributeFilename); ok {
			name = fn.FileName
		}
	}
	w.nextID++
	f := &storedFile{kind: kind, id: w.nextID, hash: accessHash(w.nextID), name: name, mime: mime, size: size, owner: self.ID}
	w.files[f.id] = f
	return f, nil
}

func (f *storedFile) tg(now time.Time, dc int) tg.MessageMediaClass {
	ref := []byte(fmt.Sprintf("ref%d", f.id))
	if f.kind == "photo" {
		return &tg.MessageMediaPhoto{Photo: &tg.Photo{
			ID: f.id, AccessHash: f.hash, FileReference: ref, Date: int(now.Unix()), DCID: dc,
			Sizes: []tg.PhotoSizeClass{&tg.PhotoSize{Type: "x", W: 800, H: 600, Size: int(f.size)}},
		}}
	}
	return &tg.MessageMediaDocument{Document: &tg.Document{
		ID: f.id, AccessHash: f.hash, FileReference: ref, Date: int(now.Unix()), DCID: dc,
		MimeType: f.mime, Size: f.size,
		Attributes: []tg.DocumentAttributeClass{&tg.DocumentAttributeFilename{FileName: f.name}},
	}}
}

func (f *storedFile) media() *Media {
	return &Media{Kind: f.kind, ID: f.id, Name: f.name, MimeType: f.mime, Size: f.size}
}

// sendMedia answers messages.sendMedia
// (https://core.telegram.org/method/messages.sendMedia): checked as a
// caption by prepare, answered with Updates carrying updateMessageID and the
// new message with its media, as Telegram's Updates answer does; a
// repeated random_id answers the original message, media and all.
func (s *Server) sendMedia(c *call) (bin.Encoder, error) {
	var r tg.MessagesSendMediaRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	o := &outgoing{
		peer: r.Peer, replyTo: r.ReplyTo, randomID: r.RandomID, text: r.Message, entities: r.Entities,
		silent: r.Silent, scheduleDate: r.ScheduleDate,
	}
	to, ids, err := w.prepare(c.self, o, true, now)
	if err != nil {
		return nil, err
	}
	if ids != nil {
		// A repeat: answer with the original message, media and all.
		m := w.find(to.key(), c.self.ID, ids[0])
		if m != nil && m.Media != nil {
			if f := w.files[m.Media.ID]; f != nil {
				o.mediaTG = f.tg(now, s.opts.DC)
			}
		}
		return w.updates(c.self, to, o, ids[0], now), nil
	}
	f, err := w.media(c.key, c.self, r.Media)
	if err != nil {
		return nil, err
	}
	o.media = f.media()
	o.mediaTG = f.tg(now, s.opts.DC)
	id := w.commit(c.self, to, o, now)
	return w.updates(c.self, to, o, id, now), nil
}

// find looks a delivered message up by its recipient, sender and id.
func (w *world) find(to, from int64, id int) *Message {
	for i := range w.inbox[to] {
		m := &w.inbox[to][i]
		if m.FromID == from && m.ID == id {
			return m
		}
	}
	return nil
}

// uploadMedia answers messages.uploadMedia
// (https://core.telegram.org/method/messages.uploadMedia): the photo or
// document made from an upload, to send by reference later, which is how
// shared/TELEGRAM.md ("Uploads") sends one file to many.
func (s *Server) uploadMedia(c *call) (bin.Encoder, error) {
	var r tg.MessagesUploadMediaRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.inputPeer(c.self, r.Peer); err != nil {
		return nil, err
	}
	f, err := w.media(c.key, c.self, r.Media)
	if err != nil {
		return nil, err
	}
	return f.tg(time.Now(), s.opts.DC), nil
}

// sendMultiMedia answers messages.sendMultiMedia
// (https://core.telegram.org/method/messages.sendMultiMedia): an album of 2
// to 10 items, the Bot API's bound for sendMediaGroup
// (https://core.telegram.org/bots/api#sendmediagroup; that MTProto has the
// same bound is a guess), else MULTI_MEDIA_TOO_LONG from gotd's schema docs;
// one message per item under one grouped_id, taking one slot of the send
// rate. Unlike prepare it does not check Options.PeerFloodAfter or count the
// album towards it. In a chat the album is one message to its rules
// (chatCheck) and goes to the topic reply_to names.
func (s *Server) sendMultiMedia(c *call) (bin.Encoder, error) {
	var r tg.MessagesSendMultiMediaRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	if len(r.MultiMedia) < 2 || len(r.MultiMedia) > 10 {
		return nil, tgerr.New(400, "MULTI_MEDIA_TOO_LONG")
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	to, err := w.dest(c.self, r.Peer, r.ReplyTo)
	if err != nil {
		return nil, err
	}
	a := w.account(c.self.ID)
	// An album is one request: if its first random_id was seen, the whole
	// album was delivered and is answered again as it was.
	first := r.MultiMedia[0].RandomID
	upd := &tg.Updates{Date: int(now.Unix())}
	upd.Users, upd.Chats = to.entities(c.self)
	if rec, ok := a.sent[sentKey{peer: to.key(), randomID: first}]; ok {
		for i, im := range r.MultiMedia {
			if i < len(rec.ids) {
				upd.Updates = append(upd.Updates, &tg.UpdateMessageID{ID: rec.ids[i], RandomID: im.RandomID})
			}
		}
		return upd, nil
	}
	files := make([]*storedFile, len(r.MultiMedia))
	for i, im := range r.MultiMedia {
		if im.RandomID == 0 {
			return nil, tgerr.New(400, "RANDOM_ID_INVALID")
		}
		if utf16Len(im.Message) > CaptionLengthMax {
			return nil, tgerr.New(400, "MEDIA_CAPTION_TOO_LONG")
		}
		f, err := w.media(c.key, c.self, im.Media)
		if err != nil {
			return nil, err
		}
		files[i] = f
	}
	if to.user != nil && w.blocked[to.user.ID] {
		return nil, tgerr.New(403, "USER_IS_BLOCKED")
	}
	if err := w.chatCheck(c.self, to, true, now); err != nil {
		return nil, err
	}
	if wait, ok := w.takeSendSlot(a, now); !ok {
		return nil, floodWait(wait)
	}
	w.nextID++
	group := w.nextID
	var ids []int
	for i, im := range r.MultiMedia {
		o := &outgoing{
			peer: r.Peer, replyTo: r.ReplyTo, randomID: im.RandomID, text: im.Message, entities: im.Entities,
			silent: r.Silent, scheduleDate: r.ScheduleDate, groupedID: group,
			media: files[i].media(), mediaTG: files[i].tg(now, s.opts.DC),
		}
		id := w.commit(c.self, to, o, now)
		ids = append(ids, id)
		u := w.updates(c.self, to, o, id, now)
		upd.Updates = append(upd.Updates, u.Updates...)
	}
	// Remember the whole album under its first random_id.
	a.sent[sentKey{peer: to.key(), randomID: first}] = sentRecord{ids: ids}
	return upd, nil
}
