// Package telegram is everything that knows gotd: client options (custom
// server and key, test DCs, proxies), login flows, the session storage
// adapter over the project's store, peer resolution with a persistent cache,
// message building and sending with caller-chosen random_ids, and the
// classification of Telegram errors into the fan-out engine's kinds
// (permanent, temporary, flood wait, fatal).
//
// Nothing above this package imports gotd: cmd/broadcast reaches it only
// through this package and internal/sandbox (whose wiring it exports).
package telegram
