package dashboard

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Only the fields that are set go on the wire (an older Ray rejects any
// field it does not know), and the token rides along.
func TestSubmitSendsOnlySetFields(t *testing.T) {
	t.Parallel()
	var got map[string]any
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &got)
		auth = r.Header.Get("Authorization")
		io.WriteString(w, `{"job_id": "raysubmit_x"}`)
	}))
	defer srv.Close()
	id, err := New(srv.URL, "tok").Submit(t.Context(), SubmitRequest{Entrypoint: "true", EntrypointNumGPUs: 2})
	if err != nil || id != "raysubmit_x" {
		t.Fatalf("%q %v", id, err)
	}
	if len(got) != 2 || got["entrypoint"] != "true" || got["entrypoint_num_gpus"] != 2.0 || auth != "Bearer tok" {
		t.Errorf("body %v auth %q", got, auth)
	}
	if _, err := New(srv.URL, "").Submit(t.Context(), SubmitRequest{}); err == nil || !strings.Contains(err.Error(), "empty entrypoint") {
		t.Errorf("empty entrypoint: %v", err)
	}
}

func TestPackageURI(t *testing.T) {
	t.Parallel()
	a, b := PackageURI([]byte("a")), PackageURI([]byte("b"))
	if a == b || !strings.HasPrefix(a, "gcs://_ray_pkg_") || !strings.HasSuffix(a, ".zip") || a != PackageURI([]byte("a")) {
		t.Errorf("%s %s", a, b)
	}
}
