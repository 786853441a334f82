// Command broadcast sends one Telegram message to many people at once and
// reports what happened to each of them.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx := signalContext()
	os.Exit(run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr, os.Environ()))
}

// signalContext is cancelled by the first SIGINT, SIGTERM, SIGHUP or SIGQUIT:
// the run stops starting sends, keeps the journal and exits 130. A second
// signal exits at once, so a process blocked anywhere (a FIFO nobody writes)
// can always be ended. SIGPIPE is ignored: a closed stdout fails the write of
// the report instead of killing the broadcast half way.
func signalContext() context.Context {
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	go func() {
		s := <-sigs
		cancel(&signalError{sig: s})
		<-sigs
		fmt.Fprintln(os.Stderr, "broadcast: second signal: exiting now; the journal is kept, `broadcast resume` finishes the job")
		os.Exit(exitInterrupted)
	}()
	return ctx
}

// signalError is the cause of a context cancelled by a signal.
type signalError struct{ sig os.Signal }

func (e *signalError) Error() string {
	name := map[os.Signal]string{
		os.Interrupt: "SIGINT", syscall.SIGTERM: "SIGTERM", syscall.SIGHUP: "SIGHUP", syscall.SIGQUIT: "SIGQUIT",
	}[e.sig]
	if name == "" {
		name = e.sig.String()
	}
	return "interrupted (" + name + ")"
}
