package ray

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// JobOptions configure RunJob, the node side of a trial job.
type JobOptions struct {
	Getenv  func(string) string
	Environ []string
	Home    string
	// Self replaces {self} in the server and benchmark commands.
	Self string
	// Stdout receives the result line (the job log, read back as fallback).
	Stdout io.Writer
	Logger *slog.Logger
}

// maxLogBytes bounds each log sent back through KV: its tail is kept.
const maxLogBytes = 8 << 20

// jobStopGrace fits inside the 3 s that Ray leaves a stopped job between
// SIGTERM and SIGKILL.
const jobStopGrace = 2 * time.Second

// RunJob runs the trial whose spec is stored under ns/id in the GCS of the
// cluster this job runs on (RAY_ADDRESS), and stores its result and logs
// next to it. A trial that fails is a result, not an error.
func RunJob(ctx context.Context, ns, id string, o JobOptions) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// When the job supervisor dies (its node or head went away), Ray 2.60
	// SIGKILLs the entrypoint's group from a watcher process. The runner
	// does not rely on that: it stops on its own, and its server with it.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	gone := proc.ParentGone(ctx, time.Second)
	go func() {
		select {
		case <-gone:
			if ctx.Err() == nil {
				cancel(errors.New("the Ray job supervisor of this trial exited"))
			}
		case <-ctx.Done():
		}
	}()
	addr, err := gcs.FindAddress(gcs.FindOptions{Getenv: o.Getenv})
	if err != nil {
		return fmt.Errorf("find this job's Ray cluster: %w", err)
	}
	token, err := gcs.LoadToken(o.Getenv, o.Home)
	if err != nil {
		return err
	}
	client, err := gcs.Dial(ctx, addr.HostPort, gcs.Options{Token: token.Value, Logger: log})
	if err != nil {
		return fmt.Errorf("connect to this job's Ray cluster: %w", err)
	}
	defer client.Close()
	raw, err := client.KVGet(ctx, ns, id+"/spec")
	if err != nil {
		return fmt.Errorf("read the trial spec %s/%s: %w", ns, id, err)
	}
	s, err := trial.DecodeSpec(raw)
	if err != nil {
		return err
	}
	// The working_dir is shared by every job of the study on this node: logs
	// go to a directory of this trial's own.
	dir, err := os.MkdirTemp("", "atv-trial-")
	if err != nil {
		return fmt.Errorf("trial %d: log dir: %w", s.Number, err)
	}
	defer os.RemoveAll(dir)
	s.LogDir = dir
	s.BaseEnv = o.Environ
	s.Logger = log
	if s.StopGrace <= 0 {
		s.StopGrace = jobStopGrace
	}
	trial.Self(s.Server, o.Self)
	trial.Self(s.BenchCommand, o.Self)
	events := startJobEvents(ctx, client, ns, id, log)
	s.Observe = events.observe
	res, runErr := trial.Run(ctx, s)
	events.close()
	out, err := trial.EncodeResult(res, runErr)
	if err != nil {
		return err
	}
	// Stored even after a stop: the controller reads what there is.
	sctx, cancelStore := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelStore()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := readTail(filepath.Join(dir, e.Name()), maxLogBytes)
		if err == nil {
			_, err = client.KVPut(sctx, ns, id+"/log/"+e.Name(), b, true)
		}
		if err != nil {
			log.Warn("could not send a trial log back", "file", e.Name(), "error", err)
		}
	}
	// The result goes last: once it is there, so are the logs.
	if _, err := client.KVPut(sctx, ns, id+"/result", out, true); err != nil {
		log.Warn("could not store the trial result in GCS; it is in the job log", "error", err)
	}
	if o.Stdout != nil {
		fmt.Fprintf(o.Stdout, "%s%s\n", ResultPrefix, out)
	}
	if runErr != nil && ctx.Err() != nil {
		return runErr
	}
	return nil
}

func readTail(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > n {
		if _, err := f.Seek(st.Size()-n, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(f)
}
