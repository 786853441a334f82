// Package fanout is the concurrent send engine: it delivers one message to
// many recipients through a Sender and reports one Result per recipient.
//
// It owns everything about pacing and failure handling that is independent of
// the messaging protocol:
//
//   - concurrency: a bounded number of targets in flight at once;
//   - rate limiting: one limiter shared by all workers, charged per attempt;
//   - flood waits: one shared gate that pauses every worker when the server
//     asks the client to slow down, not only the one that was told, and a
//     rate learned from that wall, so that it is met once;
//   - the wire: only as many requests on it at once as the workers need
//     (Wire), so that a server's limit is not met by all of them at once;
//   - retries: Temporary errors are retried with backoff and jitter for a
//     bounded time, Fatal errors stop the whole run, anything else fails just
//     its own target;
//   - reporting: one Result per target through a serialised callback, and a
//     Summary whose counts add up.
//
// It knows neither Telegram nor any database: the Sender classifies its own
// errors with FloodWaitError, Temporary, Fatal and ErrDuplicate, and the
// caller journals results from Options.OnResult.
package fanout
