// Command rayjobs measures the Ray Jobs path trials will take on a real
// head (figures, not assertions; `make bench-ray-jobs`): our client's
// submit call, submit → RUNNING and submit → SUCCEEDED for a trivial
// entrypoint, next to `ray job submit` (the Python CLI, which waits for the
// job) on the same head.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs/dashboard"
	"github.com/auto-tune-vllm/auto-tune-vllm/head"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
)

func main() {
	rayBin := flag.String("ray-bin", os.Getenv("ATV_RAY_BIN"), "bin dir of the Ray venv")
	runs := flag.Int("runs", 10, "jobs of each kind")
	flag.Parse()
	if *rayBin == "" {
		fail(fmt.Errorf("give -ray-bin or ATV_RAY_BIN"))
	}
	ctx := context.Background()
	root, err := os.MkdirTemp("", "atvj")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(root)
	env := append(os.Environ(), "PATH="+*rayBin+":"+os.Getenv("PATH"))
	h, err := head.Start(ctx, head.Options{Env: env, TempRoot: root, StateDir: filepath.Join(root, "state"), DashboardHost: "127.0.0.1", NumGPUs: -1})
	if err != nil {
		fail(err)
	}
	defer h.Stop(ctx)
	c := dashboard.New(h.DashboardURL, "")

	var call, running, done, cli []time.Duration
	for i := 0; i < *runs; i++ {
		t0 := time.Now()
		id, err := c.Submit(ctx, dashboard.SubmitRequest{Entrypoint: "sleep 0.2"})
		if err != nil {
			fail(err)
		}
		call = append(call, time.Since(t0))
		seenRunning := false
		for {
			j, err := c.Job(ctx, id)
			if err != nil {
				fail(err)
			}
			if !seenRunning && (j.Status == dashboard.Running || j.Terminal()) {
				running = append(running, time.Since(t0))
				seenRunning = true
			}
			if j.Terminal() {
				if j.Status != dashboard.Succeeded {
					fail(fmt.Errorf("job %s: %s %s", id, j.Status, j.Message))
				}
				done = append(done, time.Since(t0))
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		c.Delete(ctx, id)
	}
	for i := 0; i < *runs; i++ {
		t0 := time.Now()
		p, err := proc.Start(proc.Spec{Argv: []string{filepath.Join(*rayBin, "ray"), "job", "submit", "--address", h.DashboardURL, "--", "sleep", "0.2"},
			Env: env, LogFile: filepath.Join(root, "cli.log")})
		if err != nil {
			fail(err)
		}
		<-p.Done()
		if p.ExitCode() != 0 {
			fail(fmt.Errorf("ray job submit: %s", p.Tail()))
		}
		cli = append(cli, time.Since(t0))
	}
	fmt.Printf("## Ray Jobs on a local head (%d jobs of `sleep 0.2` each; median / max)\n\n", *runs)
	fmt.Println("| what | median | max |")
	fmt.Println("|---|---|---|")
	for _, r := range []struct {
		name string
		d    []time.Duration
	}{
		{"our Submit call", call},
		{"our submit → RUNNING seen (10 ms polling)", running},
		{"our submit → SUCCEEDED seen", done},
		{"`ray job submit` (waits for the job) wall time", cli},
	} {
		sort.Slice(r.d, func(i, j int) bool { return r.d[i] < r.d[j] })
		fmt.Printf("| %s | %.0f ms | %.0f ms |\n", r.name, ms(r.d[len(r.d)/2]), ms(r.d[len(r.d)-1]))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/rayjobs:", err)
	os.Exit(1)
}
