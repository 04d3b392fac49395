// Package dashboard is a client of the Ray dashboard's REST API (the Jobs
// API lives there). It speaks plain HTTP with the standard library; the base
// URL normally comes from GCS KV (gcs.Client.DashboardURL).
package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client talks to one dashboard.
type Client struct {
	BaseURL string // e.g. http://10.0.0.1:8265
	Token   string // Ray auth token, sent as "Authorization: Bearer"
	HTTP    *http.Client
}

// New returns a client with a dedicated transport that ignores proxy
// settings, as the cluster is reached directly.
func New(baseURL, token string) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token, HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// Version is the answer of GET /api/version.
type Version struct {
	APIVersion  string `json:"version"`
	RayVersion  string `json:"ray_version"`
	RayCommit   string `json:"ray_commit"`
	SessionName string `json:"session_name"`
}

// HTTPError is a non-2xx answer, with the server's message.
type HTTPError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.Status, strings.TrimSpace(e.Body))
}

// Version reads /api/version; it answers once the dashboard's HTTP server and
// its modules are up.
func (c *Client) Version(ctx context.Context) (Version, error) {
	var v Version
	err := c.do(ctx, http.MethodGet, "/api/version", nil, &v)
	return v, err
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	contentType := ""
	if body != nil {
		contentType = "application/json"
	}
	return c.send(ctx, method, path, body, contentType, out)
}

// doRaw sends bytes that are not JSON (a package zip).
func (c *Client) doRaw(ctx context.Context, method, path string, body []byte, contentType string) error {
	return c.send(ctx, method, path, bytes.NewReader(body), contentType, nil)
}

func (c *Client) send(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	url := c.BaseURL + path
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		return &HTTPError{Method: method, URL: url, Status: resp.StatusCode, Body: string(data)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, url, err)
	}
	return nil
}
