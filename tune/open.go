// Package tune runs studies: it turns a resolved study config into a sampler
// and an opened study, and (with a backend) runs the trials.
package tune

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// StudiesDir is where studies live by default, relative to the working dir.
const StudiesDir = "optuna_studies"

// seedKey is the study system attribute holding the sampler seed, so that a
// resumed study continues the same random streams.
const seedKey = "auto-tune-vllm:seed"

// Where says where a config's study is stored: the storage to open and the
// directory for study_config.yaml (and logs).
func Where(cfg *config.Study) (storage, dir string) {
	base := cfg.Name
	if base == "" {
		base = cfg.NamePrefix
	}
	if base == "" {
		base = "study"
	}
	dir = filepath.Join(StudiesDir, base)
	switch {
	case cfg.DatabaseURL != "":
		return cfg.DatabaseURL, dir
	case cfg.StorageFile != "":
		return cfg.StorageFile, filepath.Dir(cfg.StorageFile)
	}
	return filepath.Join(dir, "study.db"), dir
}

// Opened is a study ready for work.
type Opened struct {
	Study   *study.Study
	Storage study.Storage
	Seed    uint64
	// Interrupted counts trials a previous run left RUNNING, now failed.
	Interrupted int
	Dir         string
}

// Close releases the storage.
func (o *Opened) Close() error { return o.Storage.Close() }

// Open creates the study of cfg (resume = false) or opens it again
// (resume = true), and saves the config text beside it.
func Open(ctx context.Context, cfg *config.Study, configText []byte, resume bool) (*Opened, error) {
	where, dir := Where(cfg)
	st, err := study.Open(ctx, where)
	if err != nil {
		return nil, err
	}
	dirs := make([]study.Direction, len(cfg.Objectives))
	names := make([]string, len(cfg.Objectives))
	for i, o := range cfg.Objectives {
		dirs[i] = study.Minimize
		if o.Direction == "maximize" {
			dirs[i] = study.Maximize
		}
		names[i] = o.Key()
	}
	opts := study.Options{Name: cfg.Name, Prefix: cfg.NamePrefix, Directions: dirs, MetricNames: names, Space: cfg.Space()}
	o := &Opened{Storage: st, Dir: dir}
	if resume {
		o.Study, o.Interrupted, err = study.Resume(ctx, st, opts)
	} else {
		o.Study, err = study.Create(ctx, st, opts)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	if o.Seed, err = seed(ctx, st, o.Study, cfg); err != nil {
		st.Close()
		return nil, err
	}
	smp, err := NewSampler(cfg, o.Seed)
	if err != nil {
		st.Close()
		return nil, err
	}
	o.Study.SetSampler(smp)
	if err := saveConfig(dir, configText); err != nil {
		st.Close()
		return nil, err
	}
	return o, nil
}

// seed is the config's seed, else the one stored with the study, else a new
// random one that is stored.
func seed(ctx context.Context, st study.Storage, s *study.Study, cfg *config.Study) (uint64, error) {
	if cfg.Seed != nil {
		return uint64(*cfg.Seed), s.SetSystemAttr(ctx, seedKey, float64(*cfg.Seed))
	}
	if v, ok := s.SystemAttr(seedKey).(float64); ok {
		return uint64(v), nil
	}
	var b [4]byte
	rand.Read(b[:])
	n := uint64(binary.LittleEndian.Uint32(b[:])) // fits a JSON number exactly
	return n, s.SetSystemAttr(ctx, seedKey, float64(n))
}

// NewSampler builds the sampler the config names.
func NewSampler(cfg *config.Study, seed uint64) (sampler.Sampler, error) {
	switch cfg.Sampler {
	case "random":
		return sampler.Random{Seed: seed}, nil
	case "grid":
		if err := sampler.CheckGrid(cfg.Space(), 0); err != nil {
			return nil, err
		}
		return sampler.Grid{Seed: seed}, nil
	case "nsga2":
		return &sampler.NSGA2{Seed: seed}, nil
	case "tpe":
		return sampler.NewTPE(sampler.TPEOptions{Seed: seed, NStartup: cfg.NStartupTrials, NoStartup: cfg.NStartupTrials == 0}), nil
	case "gp":
		return sampler.NewGP(sampler.GPOptions{Seed: seed, NStartup: cfg.NStartupTrials, NoStartup: cfg.NStartupTrials == 0}), nil
	}
	return nil, fmt.Errorf("unknown sampler %q", cfg.Sampler)
}

var password = regexp.MustCompile(`(://[^:/@\s]+:)[^@\s]+@`)

// saveConfig keeps the config a study ran with beside it (passwords in URLs
// masked), as the Python tool does.
func saveConfig(dir string, text []byte) error {
	if len(text) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("study dir: %w", err)
	}
	masked := password.ReplaceAll(text, []byte("${1}***@"))
	return os.WriteFile(filepath.Join(dir, "study_config.yaml"), masked, 0o644)
}

// ReadTrials reads a study of a config's storage without changing it (a
// study may be running meanwhile): name, else the config's, else the newest
// of its prefix.
func ReadTrials(ctx context.Context, cfg *config.Study, name string) (string, []study.Trial, error) {
	where, _ := Where(cfg)
	if !strings.Contains(where, "://") {
		// Opening would create an empty database: say what is missing.
		if _, err := os.Stat(where); err != nil {
			return "", nil, fmt.Errorf("%w: no study storage at %s", study.ErrStudyNotFound, where)
		}
	}
	st, err := study.Open(ctx, where)
	if err != nil {
		return "", nil, err
	}
	defer st.Close()
	if name == "" {
		name = cfg.Name
	}
	if name == "" {
		if name, err = study.Newest(ctx, st, cfg.NamePrefix); err != nil {
			return "", nil, err
		}
	}
	info, err := st.LoadStudy(ctx, name)
	if err != nil {
		return "", nil, err
	}
	// The report reads values by the config's objectives: another config's
	// would mislabel them, or index past them.
	if len(info.Directions) != len(cfg.Objectives) {
		return "", nil, fmt.Errorf("study %s has %d objective(s) but %s names %d: give the config the study ran with", name, len(info.Directions), cfg.File, len(cfg.Objectives))
	}
	trials, err := st.Trials(ctx, info.ID)
	return name, trials, err
}
