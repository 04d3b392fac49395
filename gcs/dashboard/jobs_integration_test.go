package dashboard_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs/dashboard"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/raytest"
)

// The Jobs API of a real Ray head: submit, wait, logs, list, stop, delete,
// a working_dir package, and the server's own message on a bad request.
func TestIntegrationJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Ray head: not run with -short")
	}
	bin := raytest.Bin(t)
	f := raytest.StartForeign(t, bin, raytest.Root(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := dashboard.New(f.DashboardURL(t), "")
	for {
		if _, err := c.Version(ctx); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("dashboard never answered")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A job that prints and succeeds, with metadata naming it.
	id, err := c.Submit(ctx, dashboard.SubmitRequest{Entrypoint: "echo hello-from-job", Metadata: map[string]string{"study": "s", "trial": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	j, err := c.Wait(ctx, id, 200*time.Millisecond)
	if err != nil || j.Status != dashboard.Succeeded || j.Metadata["trial"] != "1" {
		t.Fatalf("job %+v: %v", j, err)
	}
	if logs, err := c.Logs(ctx, id); err != nil || !strings.Contains(logs, "hello-from-job") {
		t.Errorf("logs %q: %v", logs, err)
	}
	jobs, err := c.Jobs(ctx)
	if err != nil || !containsJob(jobs, id) {
		t.Errorf("list: %v %+v", err, jobs)
	}

	// A failing job keeps its exit code (Ray's job supervisor stores the
	// entrypoint's return code with the FAILED status).
	failID, _ := c.Submit(ctx, dashboard.SubmitRequest{Entrypoint: "exit 7"})
	if j, err := c.Wait(ctx, failID, 200*time.Millisecond); err != nil || j.Status != dashboard.Failed || j.DriverExitCode == nil || *j.DriverExitCode != 7 {
		t.Errorf("failing job %+v: %v", j, err)
	}

	// A long job is stopped.
	longID, err := c.Submit(ctx, dashboard.SubmitRequest{Entrypoint: "sleep 300"})
	if err != nil {
		t.Fatal(err)
	}
	for {
		j, _ := c.Job(ctx, longID)
		if j.Status == dashboard.Running {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("long job never ran")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if stopped, err := c.Stop(ctx, longID); err != nil || !stopped {
		t.Fatalf("stop: %v %v", stopped, err)
	}
	if j, err := c.Wait(ctx, longID, 200*time.Millisecond); err != nil || j.Status != dashboard.Stopped {
		t.Errorf("stopped job %+v: %v", j, err)
	}

	// A working_dir package: the entrypoint runs inside it.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("run.sh")
	w.Write([]byte("echo from-package\n"))
	zw.Close()
	uri, err := c.UploadPackage(ctx, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if again, err := c.UploadPackage(ctx, buf.Bytes()); err != nil || again != uri {
		t.Errorf("second upload: %q %v", again, err)
	}
	pkgID, err := c.Submit(ctx, dashboard.SubmitRequest{Entrypoint: "sh run.sh", RuntimeEnv: map[string]any{"working_dir": uri}})
	if err != nil {
		t.Fatal(err)
	}
	if j, err := c.Wait(ctx, pkgID, 200*time.Millisecond); err != nil || j.Status != dashboard.Succeeded {
		t.Errorf("package job %+v: %v", j, err)
	}
	if logs, _ := c.Logs(ctx, pkgID); !strings.Contains(logs, "from-package") {
		t.Errorf("package job logs %q", logs)
	}

	// Errors carry the server's message; unknown ids are ErrJobNotFound.
	if _, err := c.Submit(ctx, dashboard.SubmitRequest{Entrypoint: "true", SubmissionID: id}); err == nil || !strings.Contains(err.Error(), id) {
		t.Errorf("duplicate submission id: %v", err)
	}
	if _, err := c.Job(ctx, "raysubmit_nope"); !errors.Is(err, dashboard.ErrJobNotFound) {
		t.Errorf("unknown job: %v", err)
	}
	for _, x := range []string{id, failID, longID, pkgID} {
		if err := c.Delete(ctx, x); err != nil {
			t.Errorf("delete %s: %v", x, err)
		}
	}
	if _, err := c.Job(ctx, id); !errors.Is(err, dashboard.ErrJobNotFound) {
		t.Errorf("deleted job still there: %v", err)
	}
}

func containsJob(js []dashboard.Job, id string) bool {
	for _, j := range js {
		if j.SubmissionID == id {
			return true
		}
	}
	return false
}
