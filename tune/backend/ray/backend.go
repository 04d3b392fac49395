package ray

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/gcs/dashboard"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// Failure classes of trials that ended on the Ray side rather than in the
// server or benchmark.
const (
	JobFailed  = "ray_job_failed"
	JobStopped = "ray_job_stopped"
)

// ExeName is the name of this binary inside a job's working_dir.
const ExeName = "auto-tune-vllm"

// Backend runs each trial as one Ray job whose entrypoint is this same
// binary (`auto-tune-vllm trial run`). The spec goes out and the result
// comes back through the GCS internal KV, in a namespace per study.
type Backend struct {
	GCS  *gcs.Client
	Jobs *dashboard.Client
	// Cluster is the snapshot read at connect time: its resources bound the
	// concurrency and decide whether trials ask for GPUs.
	Cluster *gcs.Cluster
	Study   string
	// Executable is this binary, shipped to the cluster as each job's
	// working_dir. RemoteExecutable, if set, is run from the nodes' PATH
	// (or as an absolute path there) instead, and nothing is shipped.
	Executable       string
	RemoteExecutable string
	// CPUsPerTrial is each job's entrypoint_num_cpus (default 1).
	CPUsPerTrial float64
	Concurrency  int
	// Lost, if set, closes when the head we started dies; LostErr says why.
	Lost    <-chan struct{}
	LostErr func() error
	// Poll is the job status interval (default 200 ms); Unreachable is how
	// long the dashboard may not answer before the cluster counts as lost
	// (default 20 s).
	Poll        time.Duration
	Unreachable time.Duration
	// LogLevel is passed to the trial runner on the node.
	LogLevel string
	Logger   *slog.Logger

	mu      sync.Mutex
	pkg     []byte
	running map[string]bool // submission ids of jobs not yet seen terminal
}

// ErrClusterLost aborts a study: the cluster went away under it.
var ErrClusterLost = errors.New("lost the Ray cluster")

func (b *Backend) log() *slog.Logger {
	if b.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Logger
}

// Namespace is the GCS KV namespace of a study's trial specs, results and
// logs. It has no colon: GCS lists the keys of a namespace with one wrong
// (it cuts the stored key at the first colon after its namespace marker).
func Namespace(study string) string { return "auto_tune_vllm_" + sanitize(study) }

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// useGPUs: on a CPU-only cluster trials ask for no GPUs (the simulator, or
// vLLM's CPU backend); otherwise each asks for its tensor × pipeline × data
// parallel size.
func (b *Backend) useGPUs() bool { return b.Cluster.Total["GPU"] > 0 }

func (b *Backend) cpus() float64 {
	if b.CPUsPerTrial > 0 {
		return b.CPUsPerTrial
	}
	return 1
}

// largestNode is the most of a resource one alive node has: a job's
// entrypoint runs on one node.
func (b *Backend) largestNode(resource string) float64 {
	m := 0.0
	for _, n := range b.Cluster.Nodes {
		if n.Alive {
			m = max(m, n.Total[resource])
		}
	}
	return m
}

// Check fails before anything starts when no trial of the study could ever
// be placed: minGPUs is the smallest GPU need of any trial, maxGPUs the
// largest (tensor × pipeline × data parallel size).
func (b *Backend) Check(minGPUs, maxGPUs int) error {
	if cpu := b.largestNode("CPU"); cpu < b.cpus() {
		return fmt.Errorf("each trial's Ray job asks for %g CPU(s), but the largest node of the Ray cluster at %s has %g; lower --ray-cpus-per-trial", b.cpus(), b.Cluster.Address, cpu)
	}
	if !b.useGPUs() {
		b.log().Info("The Ray cluster has no GPUs: trial jobs ask for none")
		return nil
	}
	gpus := b.largestNode("GPU")
	if float64(minGPUs) > gpus {
		return fmt.Errorf("every trial needs at least %d GPUs on one node (tensor × pipeline × data parallel size), but the largest node of the Ray cluster at %s has %g; lower the parallel sizes in the config", minGPUs, b.Cluster.Address, gpus)
	}
	if float64(maxGPUs) > gpus {
		b.log().Warn(fmt.Sprintf("Trials that need more than %g GPUs cannot be placed on any node; they will be told infeasible", gpus))
	}
	return nil
}

// Slots is the configured concurrency, at most what the cluster's GPUs (one
// per trial at least) and CPUs can hold at once.
func (b *Backend) Slots(context.Context) (int, error) {
	n := max(b.Concurrency, 1)
	if b.useGPUs() {
		n = min(n, int(b.Cluster.Total["GPU"]))
	}
	n = min(n, int(b.Cluster.Total["CPU"]/b.cpus()))
	if n < 1 {
		return 0, fmt.Errorf("the Ray cluster at %s has no room for a trial (%g CPUs, %g GPUs)", b.Cluster.Address, b.Cluster.Total["CPU"], b.Cluster.Total["GPU"])
	}
	return n, nil
}

// Run submits the trial as a job, waits for it, and reads its result.
func (b *Backend) Run(ctx context.Context, s trial.Spec) (*trial.Result, error) {
	res := &trial.Result{Start: time.Now(), LogDir: s.LogDir}
	gpus := 0
	if b.useGPUs() {
		gpus = trial.GPUNeed(s.Flags)
		if have := b.largestNode("GPU"); float64(gpus) > have {
			res.End = time.Now()
			res.Failure = &trial.Failure{Class: trial.InvalidCombination, Message: fmt.Sprintf("needs %d GPUs on one node; the largest node of the Ray cluster has %g", gpus, have)}
			return res, nil
		}
	}
	ns := Namespace(b.Study)
	id := submissionID(b.Study, s.Number)
	spec, err := trial.EncodeSpec(s)
	if err != nil {
		return nil, err
	}
	req := dashboard.SubmitRequest{
		SubmissionID:      id,
		Entrypoint:        b.entrypoint(ns, id),
		EntrypointNumCPUs: b.cpus(),
		EntrypointNumGPUs: float64(gpus),
		Metadata: map[string]string{
			MetaStudy:             b.Study,
			MetaTrial:             strconv.Itoa(s.Number),
			"auto_tune_vllm_host": hostname(),
		},
	}
	if b.RemoteExecutable == "" {
		uri, err := b.upload(ctx)
		if err != nil {
			return nil, b.lost(fmt.Errorf("trial %d: %w", s.Number, err))
		}
		req.RuntimeEnv = map[string]any{"working_dir": uri}
	}
	if _, err := b.GCS.KVPut(ctx, ns, id+"/spec", spec, true); err != nil {
		return nil, b.lost(fmt.Errorf("trial %d: store its spec in GCS: %w", s.Number, err))
	}
	b.track(id, true)
	defer b.track(id, false)
	if _, err := b.Jobs.Submit(ctx, req); err != nil {
		b.GCS.KVDel(context.WithoutCancel(ctx), ns, id+"/", true)
		return nil, b.lost(fmt.Errorf("trial %d: %w", s.Number, err))
	}
	b.log().Debug("submitted trial job", "trial", s.Number, "submission_id", id, "gpus", gpus)
	events := &relay{kv: b.GCS, ns: ns, id: id, observe: s.Observe, log: b.log()}
	job, err := b.wait(ctx, id, events)
	// What the job left is collected on every path, cancellation included.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	out, errText, logs, collectErr := b.collect(cctx, ns, id, s.LogDir)
	if err != nil {
		return nil, err
	}
	if out != nil {
		out.LogDir = s.LogDir
		if errText != "" && out.Failure == nil {
			if job.Status == dashboard.Stopped {
				out.Failure = &trial.Failure{Class: JobStopped, Message: fmt.Sprintf("Ray job %s was stopped from outside the tuner (%s)", id, errText)}
				return out, nil
			}
			return nil, fmt.Errorf("trial %d on the Ray cluster: %s", s.Number, errText)
		}
		return out, nil
	}
	res.End = time.Now()
	res.Total = res.End.Sub(res.Start)
	class, what := JobFailed, "failed"
	if job.Status == dashboard.Stopped {
		class, what = JobStopped, "was stopped from outside the tuner"
	}
	msg := fmt.Sprintf("Ray job %s %s: %s", id, what, jobMessage(job.Message, logs))
	if collectErr != nil {
		msg += "; " + collectErr.Error()
	}
	res.Failure = &trial.Failure{Class: class, Message: msg, Tail: tail(logs, 40)}
	return res, nil
}

// lost turns an error into ErrClusterLost when the head we started died.
func (b *Backend) lost(err error) error {
	select {
	case <-b.Lost:
		return fmt.Errorf("%w: %v (%w)", ErrClusterLost, b.lostErr(), err)
	default:
		return err
	}
}

func (b *Backend) lostErr() error {
	if b.LostErr != nil {
		if err := b.LostErr(); err != nil {
			return err
		}
	}
	return errors.New("the Ray head exited")
}

func (b *Backend) track(id string, on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running == nil {
		b.running = map[string]bool{}
	}
	if on {
		b.running[id] = true
	} else {
		delete(b.running, id)
	}
}

// wait polls the job until it is terminal, relaying its events meanwhile
// (and the last ones after). Cancellation stops the job; a dead head or a
// dashboard silent for too long is ErrClusterLost.
func (b *Backend) wait(ctx context.Context, id string, events *relay) (dashboard.Job, error) {
	poll, unreachable := b.Poll, b.Unreachable
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	if unreachable <= 0 {
		unreachable = 20 * time.Second
	}
	lastOK, lastEvents := time.Now(), time.Now()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if time.Since(lastEvents) >= eventPoll {
			events.poll(ctx)
			lastEvents = time.Now()
		}
		j, err := b.Jobs.Job(ctx, id)
		switch {
		case err == nil:
			lastOK = time.Now()
			if j.Terminal() {
				// The job stores its last events before its result.
				events.poll(ctx)
				return j, nil
			}
		case ctx.Err() != nil:
		case errors.Is(err, dashboard.ErrJobNotFound):
			return j, fmt.Errorf("Ray job %s vanished from the cluster: %w", id, err)
		case time.Since(lastOK) > unreachable:
			return j, fmt.Errorf("%w: the Ray dashboard has not answered for %s: %v", ErrClusterLost, unreachable, err)
		}
		select {
		case <-ctx.Done():
			b.stop(context.WithoutCancel(ctx), id)
			return j, context.Cause(ctx)
		case <-b.Lost:
			return j, fmt.Errorf("%w: %v", ErrClusterLost, b.lostErr())
		case <-t.C:
		}
	}
}

// stop stops a job and waits (bounded) until Ray reports it terminal: Ray
// sends SIGTERM, then SIGKILL after a few seconds.
func (b *Backend) stop(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := b.Jobs.Stop(ctx, id); err != nil {
		b.log().Warn("stopping a trial's Ray job failed", "submission_id", id, "error", err)
		return
	}
	if j, err := b.Jobs.Wait(ctx, id, 100*time.Millisecond); err != nil {
		b.log().Warn("a stopped trial's Ray job did not end", "submission_id", id, "status", j.Status, "error", err)
	}
}

// collect saves the job's logs and the trial's server and benchmark logs
// into logDir, reads the result (KV first, the job log's result line as
// fallback) and removes the trial's keys.
func (b *Backend) collect(ctx context.Context, ns, id, logDir string) (*trial.Result, string, string, error) {
	var errs []error
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		errs = append(errs, err)
	}
	logs, err := b.Jobs.Logs(ctx, id)
	if err != nil {
		errs = append(errs, fmt.Errorf("read the job's logs: %w", err))
	} else {
		os.WriteFile(filepath.Join(logDir, "job.log"), []byte(logs), 0o644)
	}
	keys, err := b.GCS.KVKeys(ctx, ns, id+"/log/")
	b.log().Debug("trial logs in GCS", "keys", keys, "error", err)
	if err == nil {
		for _, k := range keys {
			name := path.Base(k)
			if v, err := b.GCS.KVGet(ctx, ns, k); err == nil && name != "." && name != "/" {
				os.WriteFile(filepath.Join(logDir, name), v, 0o644)
			}
		}
	}
	raw, kvErr := b.GCS.KVGet(ctx, ns, id+"/result")
	b.GCS.KVDel(ctx, ns, id+"/", true)
	if kvErr != nil {
		raw = resultLine(logs)
	}
	if raw == nil {
		return nil, "", logs, errors.Join(errs...)
	}
	r, errText, err := trial.DecodeResult(raw)
	return r, errText, logs, err
}

// ResultPrefix starts the job log line that carries the result when it
// could not be stored in KV.
const ResultPrefix = "AUTO_TUNE_VLLM_TRIAL_RESULT "

func resultLine(logs string) []byte {
	i := strings.LastIndex(logs, ResultPrefix)
	if i < 0 {
		return nil
	}
	line, _, _ := strings.Cut(logs[i+len(ResultPrefix):], "\n")
	return []byte(line)
}

// jobMessage is Ray's reason without the copy of the logs Ray appends to
// it, followed by the job log's last line (usually the error itself).
func jobMessage(msg, logs string) string {
	msg, appended, found := strings.Cut(msg, ", last available logs")
	msg = strings.TrimSpace(msg)
	if _, l, ok := strings.Cut(appended, ":\n"); found && ok && strings.TrimSpace(l) != "" {
		// Ray read these after the entrypoint exited; the job log we fetched
		// may lag behind them.
		logs = l
	}
	if last := strings.TrimSpace(tail(logs, 1)); last != "" {
		msg += ": " + last
	}
	return msg
}

func tail(s string, lines int) string {
	s = strings.TrimRight(s, "\n")
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// Close stops every job of ours that has not ended. Trials stop their own
// jobs when cancelled; this catches those whose Run already returned.
func (b *Backend) Close(ctx context.Context) error {
	b.mu.Lock()
	ids := make([]string, 0, len(b.running))
	for id := range b.running {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	sort.Strings(ids)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.stop(ctx, id)
		}()
	}
	wg.Wait()
	return nil
}

func submissionID(study string, number int) string {
	var r [4]byte
	rand.Read(r[:])
	return fmt.Sprintf("atv-%s-trial-%d-%s", sanitize(study), number, hex.EncodeToString(r[:]))
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// entrypoint runs the trial runner. A shipped binary may arrive without
// its executable bit (Ray before 2.6 unpacked packages without modes).
func (b *Backend) entrypoint(ns, id string) string {
	exe := "./" + ExeName
	prefix := "chmod +x ./" + ExeName + " && "
	if b.RemoteExecutable != "" {
		exe, prefix = shellQuote(b.RemoteExecutable), ""
	}
	args := []string{"trial", "run", "--spec", shellQuote(SpecRef(ns, id))}
	if b.LogLevel != "" {
		args = append(args, "--log-level", shellQuote(b.LogLevel))
	}
	return prefix + "exec " + exe + " " + strings.Join(args, " ")
}

// SpecRef is how `trial run --spec` names a spec stored in GCS KV.
func SpecRef(ns, id string) string { return KVScheme + ns + "/" + id }

// KVScheme prefixes a spec reference in GCS KV.
const KVScheme = "ray-kv://"

// ParseSpecRef splits a reference made by SpecRef.
func ParseSpecRef(ref string) (ns, id string, ok bool) {
	rest, ok := strings.CutPrefix(ref, KVScheme)
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/")
	if i <= 0 || i == len(rest)-1 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
