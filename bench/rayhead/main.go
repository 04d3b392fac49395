// Command rayhead measures, side by side on one host, what the Ray auto-start
// issue sets targets for:
//
//   - detection: `auto-tune-vllm ray status` vs `ray status` on one live head;
//   - start-to-ready: head.Start vs a bare `ray start --head --block` polled
//     until its GCS answers (and until its dashboard answers, for reference);
//   - processes left after our stop, and foreign processes killed (a foreign
//     head runs throughout and must survive).
//
// Figures, not assertions: run with `make bench`.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/gcs/dashboard"
	"github.com/auto-tune-vllm/auto-tune-vllm/head"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
)

func main() {
	rayBin := flag.String("ray-bin", os.Getenv("ATV_RAY_BIN"), "bin dir of the Ray venv")
	tool := flag.String("tool", "bin/auto-tune-vllm", "auto-tune-vllm binary")
	rounds := flag.Int("rounds", 5, "start/stop rounds of each kind")
	statusRuns := flag.Int("status-runs", 10, "runs of each status command")
	flag.Parse()
	if *rayBin == "" {
		fail(fmt.Errorf("give -ray-bin or ATV_RAY_BIN"))
	}
	root, err := os.MkdirTemp("/tmp", "atvb")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(root)
	env := append(os.Environ(), "PATH="+*rayBin+":"+os.Getenv("PATH"))
	ctx := context.Background()

	foreign, faddr, err := bare(ctx, *rayBin, env, filepath.Join(root, "foreign"))
	if err != nil {
		fail(err)
	}
	defer stopBare(foreign, filepath.Join(root, "foreign"))
	if _, _, err := waitReady(ctx, foreign, faddr, true); err != nil {
		fail(err)
	}
	time.Sleep(2 * time.Second) // let the agents come up too
	foreignPIDs := groupPIDs(foreign.PGID)

	// Detection / status, on the foreign head.
	ours := timeRuns(*statusRuns, env, *tool, "ray", "status", "--address", faddr)
	theirs := timeRuns(*statusRuns, env, filepath.Join(*rayBin, "ray"), "status", "--address", faddr)
	fmt.Printf("## Detection on one live head (%d runs each, median wall time)\n\n", *statusRuns)
	fmt.Println("| command | median | min | max |")
	fmt.Println("|---|---|---|---|")
	row := func(name string, d []time.Duration) {
		fmt.Printf("| `%s` | %s | %s | %s |\n", name, ms(median(d)), ms(d[0]), ms(d[len(d)-1]))
	}
	row("auto-tune-vllm ray status", ours)
	row("ray status", theirs)
	fmt.Printf("\nratio: **%.0f×** faster\n\n", float64(median(theirs))/float64(median(ours)))

	// Start-to-ready, alternating so load drifts hit both alike.
	var bareGCS, bareDash, plain, oursReady, oursStop []time.Duration
	left, stateDir := 0, filepath.Join(root, "state")
	for i := range *rounds {
		dir := filepath.Join(root, "bare"+strconv.Itoa(i))
		t0 := time.Now()
		p, addr, err := bare(ctx, *rayBin, env, dir)
		if err != nil {
			fail(err)
		}
		g, d, err := waitReady(ctx, p, addr, true)
		if err != nil {
			fail(err)
		}
		bareGCS, bareDash = append(bareGCS, g.Sub(t0)), append(bareDash, d.Sub(t0))
		stopBare(p, dir)

		// What a user types: `ray start --head` returns once Ray deems the
		// head started (its daemons keep running; swept by temp dir after).
		dir = filepath.Join(root, "plain"+strconv.Itoa(i))
		os.MkdirAll(dir, 0o700)
		t0 = time.Now()
		pp, err := proc.Start(proc.Spec{Argv: headArgv(*rayBin, dir, false), Env: env, LogFile: dir + ".log"})
		if err != nil {
			fail(err)
		}
		<-pp.Done()
		plain = append(plain, time.Since(t0))
		stopBare(pp, dir)

		t0 = time.Now()
		h, err := head.Start(ctx, head.Options{Env: env, TempRoot: root, StateDir: stateDir, DashboardHost: "127.0.0.1", NumGPUs: -1})
		if err != nil {
			fail(err)
		}
		oursReady = append(oursReady, time.Since(t0))
		st := h.State()
		t0 = time.Now()
		if err := h.Stop(ctx); err != nil {
			fail(err)
		}
		oursStop = append(oursStop, time.Since(t0))
		left += len(leftovers(st.TempDir, st.PGID))
	}
	fmt.Printf("## Start to ready (%d rounds each, alternating)\n\n", *rounds)
	fmt.Println("| what | median | min | max |")
	fmt.Println("|---|---|---|---|")
	for _, r := range []struct {
		name string
		d    []time.Duration
	}{
		{"bare ray start --head --block, until its GCS answers", bareGCS},
		{"bare ray start --head --block, until ready by our predicate", bareDash},
		{"bare ray start --head (no --block), until the command returns", plain},
		{"auto-tune-vllm head.Start, until ready (GCS + head node + dashboard)", oursReady},
		{"auto-tune-vllm head.Stop, until no process is left", oursStop},
	} {
		sort.Slice(r.d, func(i, j int) bool { return r.d[i] < r.d[j] })
		row(r.name, r.d)
	}
	fmt.Printf("\nours / bare until GCS answers: **%.2f×**; ours / bare until ready by the same predicate: **%.2f×**; ours / plain `ray start --head`: **%.2f×**\n\n",
		float64(median(oursReady))/float64(median(bareGCS)), float64(median(oursReady))/float64(median(bareDash)), float64(median(oursReady))/float64(median(plain)))

	killed := 0
	for _, p := range foreignPIDs {
		if !proc.Alive(p.PID, p.StartTime) {
			killed++
		}
	}
	fmt.Printf("## Exactness\n\nprocesses of our heads left after Stop: **%d** (over %d rounds)\n", left, *rounds)
	fmt.Printf("foreign head processes killed: **%d** of %d\n", killed, len(foreignPIDs))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rayhead:", err)
	os.Exit(1)
}

func freePort() int {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		fail(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// bare starts a head the way a user would (own ports and temp dir).
func bare(ctx context.Context, rayBin string, env []string, dir string) (*proc.Process, string, error) {
	os.MkdirAll(dir, 0o700)
	argv := headArgv(rayBin, dir, true)
	p, err := proc.Start(proc.Spec{Argv: argv, Env: env, LogFile: dir + ".log"})
	return p, "127.0.0.1:" + strings.TrimPrefix(argv[5], "--port="), err
}

// headArgv is a user's head: its own ports and temp dir, nothing more.
func headArgv(rayBin, dir string, block bool) []string {
	mode := "--block"
	if !block {
		mode = "--verbose"
	}
	return []string{filepath.Join(rayBin, "ray"), "start", "--head", mode, "--disable-usage-stats",
		"--port=" + strconv.Itoa(freePort()), "--dashboard-host=127.0.0.1", "--dashboard-port=" + strconv.Itoa(freePort()),
		"--ray-client-server-port=" + strconv.Itoa(freePort()), "--dashboard-agent-listen-port=" + strconv.Itoa(freePort()),
		"--temp-dir=" + dir}
}

// waitReady polls every 20 ms and returns when the GCS first answered and,
// if full, when the head was ready by our predicate: GCS answers, head node
// alive, dashboard published its address and serves /api/version.
func waitReady(ctx context.Context, p *proc.Process, addr string, full bool) (time.Time, time.Time, error) {
	var gcsAt time.Time
	var c *gcs.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if p != nil && p.Exited() {
			return gcsAt, gcsAt, p.Err()
		}
		if c == nil {
			if cl, err := gcs.Dial(ctx, addr, gcs.Options{ProbeTimeout: time.Second}); err == nil {
				c, gcsAt = cl, time.Now()
				if !full {
					return gcsAt, gcsAt, nil
				}
			}
		} else if headAlive(ctx, c) {
			if url, err := c.DashboardURL(ctx); err == nil {
				if _, err := dashboard.New(url, "").Version(ctx); err == nil {
					return gcsAt, time.Now(), nil
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return gcsAt, gcsAt, fmt.Errorf("head at %s not ready", addr)
}

func headAlive(ctx context.Context, c *gcs.Client) bool {
	nodes, err := c.Nodes(ctx)
	return err == nil && len(nodes) > 0 && nodes[0].Alive && nodes[0].Head
}

func stopBare(p *proc.Process, dir string) {
	p.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p.KillAfter(ctx, 10*time.Second)
	proc.Sweep(ctx, func(i *proc.Info) bool { return strings.Contains(i.CommandLine(), dir) }, 10*time.Second)
}

func groupPIDs(pgid int) []*proc.Info {
	return leftovers("", pgid)
}

func leftovers(dir string, pgid int) []*proc.Info {
	snap, _ := proc.Snapshot(context.Background())
	var out []*proc.Info
	for _, p := range snap {
		if !p.Zombie && (p.PGID == pgid || dir != "" && strings.Contains(p.CommandLine(), dir)) {
			out = append(out, p)
		}
	}
	return out
}

func timeRuns(n int, env []string, argv ...string) []time.Duration {
	var out []time.Duration
	for range n {
		t0 := time.Now()
		p, err := proc.Start(proc.Spec{Argv: argv, Env: env, Output: discard{}})
		if err != nil {
			fail(err)
		}
		<-p.Done()
		out = append(out, time.Since(t0))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

func median(d []time.Duration) time.Duration { return d[len(d)/2] }

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
