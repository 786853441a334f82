//go:build !unix

package store

// oNoFollow is 0 where the system has no O_NOFOLLOW; the os.Lstat checks
// before every open still refuse a link that was there beforehand.
const oNoFollow = 0
