package main

import "github.com/broadcast-cli/broadcast/internal/sandbox"

// Shorthands the tests were written with; the sandbox owns the values.
const sandboxBotToken = sandbox.BotToken

func writeSandboxFiles(srv *sandbox.Server, dir string) (sandbox.Files, error) {
	return srv.WriteConfig(dir)
}
