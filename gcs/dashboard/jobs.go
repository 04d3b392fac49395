package dashboard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// SubmitRequest is the body of POST /api/jobs/. Every optional field is
// omitted when empty: a Ray server rejects fields its version does not know.
type SubmitRequest struct {
	Entrypoint          string             `json:"entrypoint"`
	SubmissionID        string             `json:"submission_id,omitempty"`
	RuntimeEnv          map[string]any     `json:"runtime_env,omitempty"`
	Metadata            map[string]string  `json:"metadata,omitempty"`
	EntrypointNumCPUs   float64            `json:"entrypoint_num_cpus,omitempty"`
	EntrypointNumGPUs   float64            `json:"entrypoint_num_gpus,omitempty"`
	EntrypointMemory    int64              `json:"entrypoint_memory,omitempty"`
	EntrypointResources map[string]float64 `json:"entrypoint_resources,omitempty"`
}

// Job statuses; the last three are terminal.
const (
	Pending   = "PENDING"
	Running   = "RUNNING"
	Stopped   = "STOPPED"
	Succeeded = "SUCCEEDED"
	Failed    = "FAILED"
)

// Job is the JobDetails the dashboard reports (decoded leniently: fields
// vary across Ray versions).
type Job struct {
	Type           string            `json:"type"`
	SubmissionID   string            `json:"submission_id"`
	Status         string            `json:"status"`
	Entrypoint     string            `json:"entrypoint"`
	Message        string            `json:"message"`
	ErrorType      string            `json:"error_type"`
	StartTime      int64             `json:"start_time"` // unix ms
	EndTime        int64             `json:"end_time"`
	Metadata       map[string]string `json:"metadata"`
	DriverExitCode *int              `json:"driver_exit_code"`
	DriverNodeID   string            `json:"driver_node_id"`
}

// Terminal reports whether the job has finished.
func (j Job) Terminal() bool {
	return j.Status == Stopped || j.Status == Succeeded || j.Status == Failed
}

// ErrJobNotFound is a 404 for a job id.
var ErrJobNotFound = errors.New("job not found")

// Submit starts a job and returns its submission id.
func (c *Client) Submit(ctx context.Context, r SubmitRequest) (string, error) {
	if r.Entrypoint == "" {
		return "", errors.New("submit job: empty entrypoint")
	}
	body, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("submit job: %w", err)
	}
	var out struct {
		SubmissionID string `json:"submission_id"`
		JobID        string `json:"job_id"` // older alias
	}
	if err := c.do(ctx, http.MethodPost, "/api/jobs/", bytes.NewReader(body), &out); err != nil {
		return "", fmt.Errorf("submit job: %w", err)
	}
	if out.SubmissionID == "" {
		out.SubmissionID = out.JobID
	}
	return out.SubmissionID, nil
}

// Job reads one job.
func (c *Client) Job(ctx context.Context, id string) (Job, error) {
	var j Job
	err := c.do(ctx, http.MethodGet, "/api/jobs/"+url.PathEscape(id), nil, &j)
	return j, notFound(err)
}

// Jobs lists every job the cluster knows (submitted and driver jobs).
func (c *Client) Jobs(ctx context.Context) ([]Job, error) {
	var js []Job
	err := c.do(ctx, http.MethodGet, "/api/jobs/", nil, &js)
	return js, err
}

// Logs returns the job's whole driver log ("" before it starts).
func (c *Client) Logs(ctx context.Context, id string) (string, error) {
	var out struct {
		Logs string `json:"logs"`
	}
	err := c.do(ctx, http.MethodGet, "/api/jobs/"+url.PathEscape(id)+"/logs", nil, &out)
	return out.Logs, notFound(err)
}

// Stop asks Ray to stop the job; false means it had already finished.
func (c *Client) Stop(ctx context.Context, id string) (bool, error) {
	var out struct {
		Stopped bool `json:"stopped"`
	}
	err := c.do(ctx, http.MethodPost, "/api/jobs/"+url.PathEscape(id)+"/stop", nil, &out)
	return out.Stopped, notFound(err)
}

// Delete removes a finished job's record.
func (c *Client) Delete(ctx context.Context, id string) error {
	return notFound(c.do(ctx, http.MethodDelete, "/api/jobs/"+url.PathEscape(id), nil, nil))
}

// Wait polls the job until it is terminal or ctx ends.
func (c *Client) Wait(ctx context.Context, id string, every time.Duration) (Job, error) {
	for {
		j, err := c.Job(ctx, id)
		if err != nil || j.Terminal() {
			return j, err
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(every):
		}
	}
}

// PackageURI is the gcs:// URI of a zip's content-addressed package name.
func PackageURI(zip []byte) string {
	sum := sha256.Sum256(zip)
	return "gcs://_ray_pkg_" + hex.EncodeToString(sum[:16]) + ".zip"
}

// UploadPackage makes zip available as a `working_dir` and returns its URI.
// An existing package is not sent again (asking for it also pins it for
// Ray's grace period, so a job submitted next can use it).
func (c *Client) UploadPackage(ctx context.Context, zip []byte) (string, error) {
	uri := PackageURI(zip)
	path := "/api/packages/gcs/" + uri[len("gcs://"):]
	err := c.do(ctx, http.MethodGet, path, nil, nil)
	var he *HTTPError
	switch {
	case err == nil:
		return uri, nil
	case errors.As(err, &he) && he.Status == http.StatusNotFound:
	default:
		return "", fmt.Errorf("upload package: %w", err)
	}
	if err := c.doRaw(ctx, http.MethodPut, path, zip, "application/zip"); err != nil {
		return "", fmt.Errorf("upload package: %w", err)
	}
	return uri, nil
}

func notFound(err error) error {
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %v", ErrJobNotFound, err)
	}
	return err
}
