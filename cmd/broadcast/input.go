package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// maxInput bounds every input the tool reads whole: a message from stdin or
// --message-file, and a --to-file. It is far above any message Telegram
// takes, even split, and above 50,000 recipients; it keeps /dev/zero or a
// wrong file from eating the machine's memory.
const maxInput = 1 << 20

// readInput reads a whole input (name is for errors: a path, or "stdin") with
// the maxInput bound. It returns as soon as ctx is done, even while blocked
// in open or read (a FIFO nobody writes, a terminal nobody types in): a
// signal must always end the process.
func readInput(ctx context.Context, name string, open func() (io.ReadCloser, error)) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := open()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer r.Close()
		b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
		done <- result{b, err}
	}()
	select {
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case res := <-done:
		if res.err != nil {
			return nil, res.err
		}
		if len(res.b) > maxInput {
			return nil, usagef("", "%s is over the %d MiB input limit", name, maxInput>>20)
		}
		return res.b, nil
	}
}

// openStdin opens stdin for readInput; a missing stdin reads as empty.
func openStdin(ios *streams) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		if ios.in == nil {
			return io.NopCloser(strings.NewReader("")), nil
		}
		return io.NopCloser(ios.in), nil
	}
}

// readFile reads a named input file ("message file", "recipients"); "-"
// is stdin.
func readFile(ctx context.Context, ios *streams, what, path string) ([]byte, error) {
	if path == "-" {
		return readInput(ctx, "stdin", openStdin(ios))
	}
	b, err := readInput(ctx, what+" "+path, func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil && ctx.Err() == nil {
		var usage *usageError
		if errors.As(err, &usage) {
			return nil, err
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, usagef("", "read %s %s: %v", what, path, err)
	}
	return b, err
}

// readStdin reads the message from stdin.
func readStdin(ctx context.Context, ios *streams) ([]byte, error) {
	b, err := readInput(ctx, "stdin", openStdin(ios))
	if err != nil && ctx.Err() == nil {
		if _, ok := err.(*usageError); ok {
			return nil, usagef("", "the message on stdin is over the %d MiB input limit", maxInput>>20)
		}
		return nil, fmt.Errorf("read message from stdin: %w", err)
	}
	return b, err
}
