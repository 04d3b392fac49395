package ray

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs/dashboard"
)

// TrialJobs are the Ray jobs that ran trial number of a study (its search
// run and any confirmation runs), oldest first, found by the metadata each
// job is submitted with.
func TrialJobs(ctx context.Context, jobs *dashboard.Client, study string, number int) ([]dashboard.Job, error) {
	all, err := jobs.Jobs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the cluster's jobs: %w", err)
	}
	var out []dashboard.Job
	for _, j := range all {
		if j.Metadata[MetaStudy] == study && j.Metadata[MetaTrial] == strconv.Itoa(number) {
			out = append(out, j)
		}
	}
	sort.SliceStable(out, func(i, k int) bool { return out[i].StartTime < out[k].StartTime })
	return out, nil
}

// Metadata keys a trial's job is submitted with.
const (
	MetaStudy = "auto_tune_vllm_study"
	MetaTrial = "auto_tune_vllm_trial"
)

// PrintJobLogs writes each job's driver log under a header; with follow,
// the last job's log is followed until the job ends or ctx does.
func PrintJobLogs(ctx context.Context, w io.Writer, jobs *dashboard.Client, list []dashboard.Job, follow bool, every time.Duration) error {
	for i, j := range list {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "==> Ray job %s (%s) <==\n", j.SubmissionID, j.Status)
		printed := 0
		for {
			logs, err := jobs.Logs(ctx, j.SubmissionID)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read the log of Ray job %s: %w", j.SubmissionID, err)
			}
			if len(logs) < printed {
				printed = 0 // the log was rewritten: print it again
			}
			io.WriteString(w, logs[printed:])
			printed = len(logs)
			if !follow || i < len(list)-1 || j.Terminal() {
				break
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(every):
			}
			// The status after the logs were read: the last lines of an
			// ended job are read once more.
			if j, err = jobs.Job(ctx, j.SubmissionID); err != nil && ctx.Err() == nil {
				return fmt.Errorf("Ray job %s: %w", list[i].SubmissionID, err)
			}
		}
	}
	return nil
}
