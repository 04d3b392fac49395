package ray

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
)

func TestSpecRef(t *testing.T) {
	ns := Namespace("my study/2")
	if strings.ContainsAny(ns, ":/ ") {
		t.Fatalf("namespace %q", ns)
	}
	ref := SpecRef(ns, "atv-x-trial-1-ab")
	gotNS, id, ok := ParseSpecRef(ref)
	if !ok || gotNS != ns || id != "atv-x-trial-1-ab" {
		t.Errorf("ParseSpecRef(%q) = %q %q %v", ref, gotNS, id, ok)
	}
	for _, bad := range []string{"spec.json", "ray-kv://", "ray-kv://ns", "ray-kv://ns/", "ray-kv:///id"} {
		if _, _, ok := ParseSpecRef(bad); ok {
			t.Errorf("ParseSpecRef(%q) accepted", bad)
		}
	}
}

func TestEntrypoint(t *testing.T) {
	tests := []struct {
		name string
		b    *Backend
		want string
	}{
		{"shipped", &Backend{}, "chmod +x ./auto-tune-vllm && exec ./auto-tune-vllm trial run --spec ray-kv://ns/id"},
		{"from PATH", &Backend{RemoteExecutable: "auto-tune-vllm", LogLevel: "debug"}, "exec auto-tune-vllm trial run --spec ray-kv://ns/id --log-level debug"},
		{"quoted path", &Backend{RemoteExecutable: "/opt/my tools/it's"}, `exec '/opt/my tools/it'\''s' trial run --spec ray-kv://ns/id`},
	}
	for _, tt := range tests {
		if got := tt.b.entrypoint("ns", "id"); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestSubmissionIDsAreUnique(t *testing.T) {
	a, b := submissionID("s t", 3), submissionID("s t", 3)
	if a == b || !strings.HasPrefix(a, "atv-s_t-trial-3-") {
		t.Errorf("%q %q", a, b)
	}
}

// The package holds the binary, executable, and is the same bytes (so the
// same URI) every time.
func TestPackage(t *testing.T) {
	exe := bytes.Repeat([]byte("\x7fELF binary "), 1000)
	p1, err := Package(exe)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := Package(exe)
	if !bytes.Equal(p1, p2) {
		t.Error("packaging is not deterministic")
	}
	zr, err := zip.NewReader(bytes.NewReader(p1), int64(len(p1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != ExeName || zr.File[0].Mode().Perm() != 0o755 {
		t.Fatalf("entries: %+v", zr.File)
	}
	rc, _ := zr.File[0].Open()
	got, _ := io.ReadAll(rc)
	if !bytes.Equal(got, exe) {
		t.Error("content differs")
	}
}

func cluster(nodes ...map[string]float64) *gcs.Cluster {
	c := &gcs.Cluster{Address: "10.0.0.1:6379", Total: map[string]float64{}}
	for _, n := range nodes {
		c.Nodes = append(c.Nodes, gcs.Node{Alive: true, Total: n})
		for k, v := range n {
			c.Total[k] += v
		}
	}
	c.Nodes = append(c.Nodes, gcs.Node{Alive: false, Total: map[string]float64{"CPU": 64, "GPU": 8}})
	return c
}

func TestCheckAndSlots(t *testing.T) {
	tests := []struct {
		name        string
		cluster     *gcs.Cluster
		cpus        float64
		conc        int
		lo, hi      int
		err         string
		slots       int
		slotsErrStr string
	}{
		{"CPU-only cluster ignores GPU needs", cluster(map[string]float64{"CPU": 2}), 0, 4, 4, 8, "", 2, ""},
		{"GPUs bound concurrency", cluster(map[string]float64{"CPU": 32, "GPU": 4}, map[string]float64{"CPU": 32, "GPU": 2}), 0, 8, 1, 2, "", 6, ""},
		{"no node holds the smallest trial", cluster(map[string]float64{"CPU": 32, "GPU": 4}, map[string]float64{"CPU": 32, "GPU": 4}), 0, 2, 8, 8, "needs at least 8 GPUs on one node", 2, ""},
		{"too many CPUs per trial", cluster(map[string]float64{"CPU": 2}), 4, 1, 1, 1, "asks for 4 CPU(s)", 0, "no room for a trial"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &Backend{Cluster: tt.cluster, CPUsPerTrial: tt.cpus, Concurrency: tt.conc}
			err := b.Check(tt.lo, tt.hi)
			if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Check: %v, want %q", err, tt.err)
			}
			n, err := b.Slots(context.Background())
			if n != tt.slots || (err == nil) != (tt.slotsErrStr == "") || err != nil && !strings.Contains(err.Error(), tt.slotsErrStr) {
				t.Errorf("Slots = %d, %v; want %d, %q", n, err, tt.slots, tt.slotsErrStr)
			}
		})
	}
}

func TestResultLine(t *testing.T) {
	logs := "Running entrypoint\nINFO: starting server\n" + ResultPrefix + `{"total_s":1}` + "\nbye\n"
	if got := string(resultLine(logs)); got != `{"total_s":1}` {
		t.Errorf("resultLine = %q", got)
	}
	if resultLine("no result here") != nil {
		t.Error("found a result in logs without one")
	}
}

func TestJobMessage(t *testing.T) {
	tests := []struct{ msg, logs, want string }{
		{"Job entrypoint command failed with exit code 127, last available logs (truncated to 20,000 chars):\nsh: 1: exec: x: not found\n",
			"Running entrypoint for job j: exec x\n", "Job entrypoint command failed with exit code 127: sh: 1: exec: x: not found"},
		{"Job was intentionally stopped.", "", "Job was intentionally stopped."},
		{"Job entrypoint command failed with exit code 1, last available logs (truncated to 20,000 chars):\nboom\n", "Running entrypoint for job j: x\n",
			"Job entrypoint command failed with exit code 1: boom"},
	}
	for _, tt := range tests {
		if got := jobMessage(tt.msg, tt.logs); got != tt.want {
			t.Errorf("jobMessage(%q) = %q, want %q", tt.msg, got, tt.want)
		}
	}
}
