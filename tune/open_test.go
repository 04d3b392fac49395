package tune

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

const studyYAML = `
study:
  prefix: qwen
  database_url: ${DB:-}
optimization:
  preset: balanced
  sampler: tpe
  n_startup_trials: 2
benchmark:
  model: m
parameters:
  max_num_seqs: {min: 8, max: 64, step: 8}
logging:
  database_url: postgresql://u:secret@db/logs
`

func TestOpenCreateResume(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	ctx := context.Background()
	cfg, err := config.Parse("s.yaml", []byte(studyYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(ctx, cfg, []byte(studyYAML), false)
	if err != nil {
		t.Fatal(err)
	}
	if o.Study.Name() != "qwen_1" || o.Dir != filepath.Join("optuna_studies", "qwen") {
		t.Errorf("name %s dir %s", o.Study.Name(), o.Dir)
	}
	for i := 0; i < 3; i++ {
		a, err := o.Study.Ask(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			o.Study.Tell(ctx, a, study.Result{State: study.Complete, Values: []float64{float64(i), 1}})
		}
	}
	seed := o.Seed
	o.Close()
	if _, err := os.Stat(filepath.Join("optuna_studies", "qwen", "study.db")); err != nil {
		t.Error(err)
	}
	saved, _ := os.ReadFile(filepath.Join("optuna_studies", "qwen", "study_config.yaml"))
	if !strings.Contains(string(saved), "postgresql://u:***@db/logs") || strings.Contains(string(saved), "secret") {
		t.Errorf("saved config:\n%s", saved)
	}

	r, err := Open(ctx, cfg, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Study.Name() != "qwen_1" || r.Interrupted != 1 || r.Seed != seed {
		t.Errorf("resume: %s, %d interrupted, seed %d (was %d)", r.Study.Name(), r.Interrupted, r.Seed, seed)
	}
	trials, _ := r.Study.Trials(ctx)
	if len(trials) != 3 || trials[2].State != study.Fail || trials[2].UserAttrs["error_type"] != "interrupted" {
		t.Errorf("trials after resume: %+v", trials)
	}
}

func TestNewSampler(t *testing.T) {
	t.Parallel()
	for _, name := range config.Samplers {
		src := "optimization: {sampler: " + name + ", preset: balanced}\nbenchmark: {}\nparameters:\n  a: {min: 1, max: 4}\n"
		cfg, err := config.Parse("s.yaml", []byte(src), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewSampler(cfg, 1); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The Python tool's botorch is our gp.
	cfg, err := config.Parse("s.yaml", []byte("optimization: {sampler: botorch}\nbenchmark: {}\nparameters:\n  a: {min: 1, max: 4}\n"), nil)
	if s, _ := NewSampler(cfg, 1); err != nil || !isGP(s) {
		t.Errorf("botorch: %T, %v", s, err)
	}
	cfg, _ = config.Parse("s.yaml", []byte("optimization: {sampler: grid}\nbenchmark: {}\nparameters:\n  a: {min: 0.0, max: 1.0}\n"), nil)
	if _, err := NewSampler(cfg, 1); err == nil || !strings.Contains(err.Error(), "give it a step") {
		t.Errorf("grid over a continuous range: %v", err)
	}
}

func isGP(s sampler.Sampler) bool {
	_, ok := s.(*sampler.GP)
	return ok
}

// best and report read a study by its config's objectives: a config with
// another number of them is refused with what to do, not a panic.
func TestReadTrialsObjectivesMismatch(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	ctx := context.Background()
	st, err := study.OpenSQLite(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := study.Create(ctx, st, study.Options{Name: "two", Directions: []study.Direction{study.Maximize, study.Minimize}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	text := "study: {name: two, storage_file: " + db + "}\noptimization: {preset: high_throughput, n_trials: 2}\nbenchmark: {model: m}\n"
	cfg, err := config.Parse("one.yaml", []byte(text), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = ReadTrials(ctx, cfg, "")
	if err == nil || !strings.Contains(err.Error(), "study two has 2 objective(s) but one.yaml names 1: give the config the study ran with") {
		t.Errorf("error %v", err)
	}
}
