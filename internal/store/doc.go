// Package store owns broadcast's embedded state database: one bbolt file,
// state.db, in the state directory. It holds
//
//   - the MTProto session (the auth key, a secret) and the logged-in account,
//     so a cron run needs no extra calls to learn who it is;
//   - the peer cache, mapping canonical recipient keys to resolved peers;
//   - the delivery journal, which makes a broadcast exactly-once across
//     crashes and resumes: a broadcast record plus one entry per recipient.
//
// Only this package knows bbolt; its API uses plain Go types. Records are
// stored as JSON, and anything that does not decode is reported as a
// *CorruptError rather than a panic.
//
// The database file is locked by the process that has it open, so two
// broadcasts never share it: Open fails fast with a *LockedError naming the
// pid of the holder (read from broadcast.pid next to the database). Because
// the session is a secret, Open refuses a state directory or file that other
// users can reach, with a *PermissionError. It does not follow symbolic
// links: a state dir that is one, or a state.db, broadcast.pid or state.sock
// that is one, is a *SymlinkError, so that nothing is ever opened, written
// or chmodded through a link planted in the state dir. A state dir or
// state.db its owner cannot write is a *NotWritableError.
//
// Reads need not wait for a running broadcast: while it holds the database
// it can serve copies of it (Store.ServeReaders, on the Unix socket
// state.sock), and OpenSnapshot, or OpenForRead, which tries Open first,
// opens such a copy read-only. A copy is a consistent state as of the moment
// it was taken; Store.Snapshot tells it from the database itself.
//
// A state.db is never created in place: a new database is built under a
// temporary name and linked into place complete, so an empty or half-written
// state.db is always damage, and Open reports it instead of overwriting it.
package store
