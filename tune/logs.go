package tune

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// TrialLogs says where a trial's logs are.
type TrialLogs struct {
	Study  string
	Number int
	State  study.State
	// Dir is the trial's log directory: the one recorded with the trial
	// (its log_dir attribute, relative to where the study ran), else
	// <logRoot>/<study>/trial_<n>, where a trial still running logs.
	Dir      string
	Recorded bool
	// Confirm are the confirmation runs' directories recorded with the
	// trial (usually Dir/confirm_<round>).
	Confirm []string
}

// FindTrialLogs looks up trial number of study name in the storage where.
func FindTrialLogs(ctx context.Context, where, name string, number int, logRoot string) (*TrialLogs, error) {
	t, err := readTrial(ctx, where, name, number)
	if err != nil {
		return nil, err
	}
	l := &TrialLogs{Study: name, Number: number, State: t.State, Dir: filepath.Join(logRoot, name, fmt.Sprintf("trial_%d", number))}
	if dir, ok := t.UserAttrs[study.AttrLogDir].(string); ok && dir != "" {
		l.Dir, l.Recorded = dir, true
	}
	var keys []string
	for k := range t.UserAttrs {
		if strings.HasPrefix(k, study.AttrConfirmPrefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if rec, ok := t.UserAttrs[k].(map[string]any); ok {
			if dir, ok := rec["log_dir"].(string); ok && dir != "" {
				l.Confirm = append(l.Confirm, dir)
			}
		}
	}
	return l, nil
}

// TrialState is the current state of a trial.
func TrialState(ctx context.Context, where, name string, number int) (study.State, error) {
	t, err := readTrial(ctx, where, name, number)
	if err != nil {
		return "", err
	}
	return t.State, nil
}

func readTrial(ctx context.Context, where, name string, number int) (*study.Trial, error) {
	trials, err := StudyTrials(ctx, where, name)
	if err != nil {
		return nil, err
	}
	for i := range trials {
		if trials[i].Number == number {
			return &trials[i], nil
		}
	}
	if len(trials) == 0 {
		return nil, fmt.Errorf("study %s has no trials yet", name)
	}
	return nil, fmt.Errorf("study %s has no trial %d: its trials are 0 to %d", name, number, trials[len(trials)-1].Number)
}
