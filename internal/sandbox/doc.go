// Package sandbox is a local Telegram-compatible MTProto server for tests,
// `broadcast sandbox` and `broadcast demo`.
//
// It is built on gotd's tgtest server, so a gotd client reaches it over TCP
// with the real key exchange and encryption, given its address, DC id and RSA
// public key. On top of tgtest it keeps a small world: N friends (friend1 …
// friendN), accounts that log in by phone (code 22222, optional 2FA) or bot
// token, and an inbox per user that records every delivered message.
//
// Fault knobs (latency, a per-account send rate answered with FLOOD_WAIT, a
// resolveUsername budget, lost answers with or without an acknowledgement,
// users who blocked the account) exist so the tool's own retries, flood gate
// and journal can be tested against real protocol behaviour.
//
// It also works around tgtest's known problems (see shared/TELEGRAM.md): the
// codec is detected per connection in a listener of its own, msgs_ack is
// dropped, slow RPCs run on their own goroutines with a copy of the request,
// read timeouts outlast gotd's pings, and connections are closed on stop.
package sandbox
