// Command rayjobs measures the Ray Jobs path trials will take on a real
// head (figures, not assertions; `make bench-ray-jobs`): our client's
// submit call, submit → RUNNING and submit → SUCCEEDED for a trivial
// entrypoint, next to `ray job submit` (the Python CLI, which waits for the
// job) on the same head; then the per-trial overhead of the Ray backend
// against the local one, running the same simulated-server trial.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/gcs/dashboard"
	"github.com/auto-tune-vllm/auto-tune-vllm/head"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/backend/ray"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

func main() {
	rayBin := flag.String("ray-bin", os.Getenv("ATV_RAY_BIN"), "bin dir of the Ray venv")
	runs := flag.Int("runs", 10, "jobs of each kind")
	tool := flag.String("tool", "", "the auto-tune-vllm binary (shipped to Ray, and the simulated server); empty skips the trial comparison")
	trials := flag.Int("trials", 8, "trials on each backend")
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
	if *tool != "" {
		trialOverhead(ctx, h, *tool, *trials, root)
	}
}

// trialOverhead runs the same trial (simulated server, 1 s of load) on the
// local backend and as Ray jobs. Overhead is the wall time the controller
// sees minus the trial's own time (server start, load, stop) as measured
// where it ran.
func trialOverhead(ctx context.Context, h *head.Head, tool string, n int, root string) {
	tool, err := filepath.Abs(tool)
	if err != nil {
		fail(err)
	}
	spec := trial.Spec{
		Server: []string{"{self}", "simulate", "{model}", "--sim-speedup", "10", "--sim-startup-seconds", "0.2"}, Model: "bench-sim",
		StartupTimeout: 30 * time.Second,
		Flags:          []trial.Flag{{Name: "max_num_seqs", Value: int64(32)}},
		Bench:          bench.Options{Concurrency: 8, Duration: time.Second, Prompt: bench.TokenDist{Mean: 64}, Output: bench.TokenDist{Mean: 16}},
		BaseEnv:        os.Environ(),
	}
	client, err := gcs.Dial(ctx, h.LocalAddress, gcs.Options{})
	if err != nil {
		fail(err)
	}
	defer client.Close()
	info, err := client.Describe(ctx)
	if err != nil {
		fail(err)
	}
	b := &ray.Backend{GCS: client, Jobs: dashboard.New(h.DashboardURL, ""), Cluster: info, Study: "bench", Executable: tool, Concurrency: 1}
	defer b.Close(ctx)
	type row struct{ wall, own []time.Duration }
	var local, onRay row
	var first time.Duration
	for i := 0; i <= n; i++ {
		s := spec
		s.Number, s.LogDir = i, filepath.Join(root, "trials", fmt.Sprint(i))
		t0 := time.Now()
		res, err := b.Run(ctx, s)
		wall := time.Since(t0)
		if err != nil || res.Failure != nil {
			fail(fmt.Errorf("ray trial %d: %v %+v", i, err, res))
		}
		if i == 0 { // ships the binary and sets up its working_dir
			first = wall - res.Total
			continue
		}
		onRay.wall, onRay.own = append(onRay.wall, wall), append(onRay.own, res.Total)
		s.LogDir = filepath.Join(root, "local", fmt.Sprint(i))
		s.Server = append([]string{tool}, spec.Server[1:]...)
		t0 = time.Now()
		res, err = trial.Run(ctx, s)
		wall = time.Since(t0)
		if err != nil || res.Failure != nil {
			fail(fmt.Errorf("local trial %d: %v %+v", i, err, res))
		}
		local.wall, local.own = append(local.wall, wall), append(local.own, res.Total)
	}
	med := func(d []time.Duration) time.Duration {
		d = append([]time.Duration(nil), d...)
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	over := func(r row) []time.Duration {
		out := make([]time.Duration, len(r.wall))
		for i := range r.wall {
			out[i] = r.wall[i] - r.own[i]
		}
		return out
	}
	fmt.Printf("\n## Per-trial overhead, same simulated-server trial (1 s of load), %d trials each after a first Ray one (medians)\n\n", n)
	fmt.Println("| backend | wall per trial | trial's own time | overhead |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| local | %.0f ms | %.0f ms | %.0f ms |\n", ms(med(local.wall)), ms(med(local.own)), ms(med(over(local))))
	fmt.Printf("| Ray job | %.0f ms | %.0f ms | %.0f ms |\n", ms(med(onRay.wall)), ms(med(onRay.own)), ms(med(over(onRay))))
	fmt.Printf("\nFirst Ray trial's overhead (zips and uploads the %s binary, Ray unpacks it): %.0f ms\n", filepath.Base(tool), ms(first))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/rayjobs:", err)
	os.Exit(1)
}
