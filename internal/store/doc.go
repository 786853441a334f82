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
// users can reach, with a *PermissionError.
//
// A state.db is never created in place: a new database is built under a
// temporary name and linked into place complete, so an empty or half-written
// state.db is always damage, and Open reports it instead of overwriting it.
package store
