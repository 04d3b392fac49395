package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The bash script, run by bash as it completes a command line.
func TestCompletionBash(t *testing.T) {
	t.Parallel()
	code, script, stderr := runCLI(t, nil, "completion", "bash")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "c.bash")
	must(t, os.WriteFile(path, []byte(script), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "study.yaml"), nil, 0o644))
	tests := []struct {
		line string // the words typed; the last one is completed
		want string // COMPREPLY, space-separated
	}{
		{"auto-tune-vllm op", "optimize"},
		{"auto-tune-vllm ray ", "status doctor cleanup"},
		{"auto-tune-vllm ray status --j", "--json"},
		{"auto-tune-vllm --log-level debug ray st", "status"},
		{"auto-tune-vllm --log-level w", "warn"},
		{"auto-tune-vllm optimize --con", "--config"},
		{"auto-tune-vllm optimize --config " + dir + "/st", dir + "/study.yaml"},
		{"auto-tune-vllm optimize --max-concurrent 2 --no-c", "--no-confirm"},
		{"auto-tune-vllm best --format ", "cmd yaml json"},
		{"auto-tune-vllm clear-study --y", "--yes"},
		{"auto-tune-vllm logs --study s --trial 3 --fo", "--follow"},
		{"auto-tune-vllm check-env --j", "--json"},
		{"auto-tune-vllm completion ", "bash zsh fish"},
		{"auto-tune-vllm gpus --bogus", ""},
	}
	for _, tt := range tests {
		words := strings.Split(tt.line, " ")
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		prog := "source " + path + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" + itoa(len(words)-1) + "\n_auto_tune_vllm\necho \"${COMPREPLY[*]}\"\n"
		out, err := exec.Command("bash", "--norc", "--noprofile", "-c", prog).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tt.want {
			t.Errorf("%q: got %q (%v), want %q", tt.line, out, err, tt.want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestCompletionScripts(t *testing.T) {
	t.Parallel()
	_, bash, _ := runCLI(t, nil, "completion", "bash")
	tests := []struct {
		shell string
		want  []string
	}{
		{"zsh", []string{"#compdef auto-tune-vllm\nautoload -U +X bashcompinit && bashcompinit\n" + bash}},
		{"fish", []string{
			"complete -c auto-tune-vllm -n '__fish_use_subcommand' -a studies -d 'List the studies",
			"complete -c auto-tune-vllm -n '__fish_seen_subcommand_from ray; and not __fish_seen_subcommand_from status doctor cleanup' -a status",
			"complete -c auto-tune-vllm -n '__fish_seen_subcommand_from best' -l format -x -a 'cmd yaml json'",
			"complete -c auto-tune-vllm -n '__fish_seen_subcommand_from optimize' -l config -r -F",
			"complete -c auto-tune-vllm -n '__fish_seen_subcommand_from delete-study' -l yes -s y",
			"-a 'bash zsh fish'",
		}},
	}
	for _, tt := range tests {
		code, out, stderr := runCLI(t, nil, "completion", tt.shell)
		for _, w := range tt.want {
			if code != 0 || !strings.Contains(out, w) {
				t.Errorf("%s: exit %d %s, lacks %q", tt.shell, code, stderr, w)
			}
		}
		if strings.Contains(out, "--hold") || strings.Contains(out, "--retain") {
			t.Errorf("%s: hidden flags completed", tt.shell)
		}
	}
	code, _, stderr := runCLI(t, nil, "completion", "tcsh")
	if code != exitUsage || !strings.Contains(stderr, `must be one of "bash","zsh","fish"`) {
		t.Errorf("tcsh: exit %d %s", code, stderr)
	}
}
