// Command auto-tune-vllm finds the best `vllm serve` flags for a model on
// given hardware, on one machine or across a Ray cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		cancel(fmt.Errorf("%w (%s)", errInterrupted, signalName(sig)))
		// A second signal means "now": cleanup is abandoned.
		<-sigs
		fmt.Fprintln(os.Stderr, "interrupted again, exiting without cleanup")
		os.Exit(exitInterrupted)
	}()
	os.Exit(run(ctx, os.Args[1:], systemStreams()))
}

var errInterrupted = errors.New("interrupted")

// Exit codes, listed in every command's help.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2 // bad flags or arguments
	exitInterrupted = 130
)

const exitCodesHelp = "Exit codes: 0 success, 1 failure (including an invalid study config), 2 invalid command-line usage, 130 interrupted."

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}
