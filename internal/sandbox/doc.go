// Package sandbox is a local Telegram-compatible MTProto server for tests,
// `broadcast sandbox` and `broadcast demo`.
//
// It is built on gotd's tgtest server, so a gotd client reaches it over TCP
// with the real key exchange and encryption, given its address, DC id and RSA
// public key. On top of tgtest it keeps a small world: N friends (friend1 …
// friendN), accounts that log in by phone (code 22222, optional 2FA) or bot
// token, and an inbox per user that records every delivered message as its
// sender last left it (deleted or edited).
//
// Fault knobs (latency, a per-account send rate answered with FLOOD_WAIT, a
// resolveUsername budget, lost answers with or without an acknowledgement,
// users who blocked the account) and behaviour knobs (edit and revoke time
// limits, how soon recipients read) exist so the tool's own retries, flood
// gate, journal, retractions and edits can be tested against real protocol
// behaviour.
//
// It also works around tgtest's known problems (see shared/TELEGRAM.md): the
// codec is detected per connection in a listener of its own, msgs_ack is
// dropped, slow RPCs run on their own goroutines with a copy of the request,
// read timeouts outlast gotd's pings, and connections are closed on stop.
//
// Files:
//
//   - sandbox.go: Options, Start and Close, and the Go API that reads a running server.
//   - world.go: the state methods act on: users, logins, per-account send state, inboxes.
//   - rpc.go: dispatch: the method table, per-RPC goroutines, latency, lost answers, errors.
//   - auth.go: phone login (sendCode, signIn, the login code), 2FA, bot tokens, logOut.
//   - srp.go: the server side of the SRP 2FA check.
//   - users.go: users.getUsers, users.getFullUser, contacts.resolveUsername and resolvePhone.
//   - messages.go: messages.sendMessage and the checks, dedupe and delivery all sends share.
//   - media.go: uploads, stored photos and documents, sendMedia, sendMultiMedia, uploadMedia.
//   - aftercare.go: deleteMessages and editMessage, within the limits help.getConfig announces.
//   - dialogs.go: getPeerDialogs, with how far each recipient has read.
//   - help.go: help.getConfig (and the per-caller edit and revoke limits), help.getNearestDc,
//     updates.getState, account.updateStatus.
//   - persist.go: a persistent server's files (Options.StateDir): load, save, auth keys to tgtest.
//   - restore.go: a previous run's accounts, logins and inbox put back into the world.
//   - listener.go: the TCP listener below tgtest (codec detection, closing connections).
//   - wiring.go: the bot token, app credentials and config file the sandbox's users share.
//   - proxy.go: SOCKS5 and MTProxy test doubles on 127.0.0.1, for the proxy tests.
//   - cluster.go: several DCs (Options.DCs): DCs 2…N's listeners, keys and tgtest servers,
//     which DC an account lives on, the DC list help.getConfig announces, per-DC counters.
//   - transfer.go: PHONE_, USER_ and FILE_MIGRATE_X, auth.exportAuthorization and
//     auth.importAuthorization.
//   - qrlogin.go: QR login (auth.exportLoginToken, acceptLoginToken, importLoginToken,
//     updateLoginToken), Scan and the auto-scanning phone.
//   - phone.go: ScanRemote, the phone over MTProto (`broadcast sandbox scan`).
//   - loginfaults.go: refused logins (banned number, flood wait, password flood, expired code)
//     and RevokeSessions.
//
// Every method cites where its Telegram semantics come from (the method's
// page on core.telegram.org, gotd's schema docs, TDLib, shared/TELEGRAM.md)
// and says so where they are a guess.
package sandbox
