package gcs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindAddress(t *testing.T) {
	t.Parallel()
	withFile := t.TempDir()
	os.MkdirAll(filepath.Join(withFile, "ray"), 0o755)
	os.WriteFile(filepath.Join(withFile, "ray", BootstrapFile), []byte("10.1.2.3:6380"), 0o644)
	custom := t.TempDir()
	os.WriteFile(filepath.Join(custom, BootstrapFile), []byte(" 10.9.9.9:7000\n"), 0o644)
	empty := t.TempDir()

	tests := []struct {
		name, flag, tempDir string
		env                 map[string]string
		want, source        string
		wantErr             string
	}{
		{name: "flag wins", flag: "1.2.3.4:5", env: map[string]string{"RAY_ADDRESS": "9.9.9.9:1"}, want: "1.2.3.4:5", source: "--ray-address"},
		{name: "flag without port", flag: "headnode", want: "headnode:6379", source: "--ray-address"},
		{name: "ipv6", flag: "[::1]:7", want: "[::1]:7", source: "--ray-address"},
		{name: "env", env: map[string]string{"RAY_ADDRESS": "5.6.7.8:1234"}, want: "5.6.7.8:1234", source: "RAY_ADDRESS"},
		{name: "env auto means discover", env: map[string]string{"RAY_ADDRESS": "auto", "RAY_TMPDIR": withFile}, want: "10.1.2.3:6380", source: filepath.Join(withFile, "ray", BootstrapFile)},
		{name: "RAY_TMPDIR bootstrap file", env: map[string]string{"RAY_TMPDIR": withFile}, want: "10.1.2.3:6380"},
		{name: "TMPDIR bootstrap file", env: map[string]string{"TMPDIR": withFile, "RAY_TMPDIR": empty}, want: "10.1.2.3:6380"},
		{name: "explicit temp dir first", tempDir: custom, env: map[string]string{"RAY_TMPDIR": withFile}, want: "10.9.9.9:7000"},
		{name: "ray client address", flag: "ray://h:10001", wantErr: "Ray Client"},
		{name: "dashboard address", env: map[string]string{"RAY_ADDRESS": "http://h:8265"}, wantErr: "dashboard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FindAddress(FindOptions{Address: tt.flag, TempDir: tt.tempDir, Getenv: func(k string) string { return tt.env[k] }})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.HostPort != tt.want || (tt.source != "" && got.Source != tt.source) {
				t.Errorf("got %+v, want %s from %s", got, tt.want, tt.source)
			}
		})
	}
}

func TestFindAddressNone(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	_, err := FindAddress(FindOptions{TempDir: empty, Getenv: func(string) string { return "" }})
	if !errors.Is(err, ErrNoCluster) || !strings.Contains(err.Error(), "no ray_current_cluster in "+empty+" or /tmp/ray") {
		t.Fatalf("err = %v, want ErrNoCluster naming where it looked", err)
	}
}

func TestLoadToken(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".ray"), 0o700)
	os.WriteFile(filepath.Join(home, ".ray", "auth_token"), []byte("from-home\nignored\n"), 0o600)
	file := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(file, []byte("  from-file  \n"), 0o600)

	tests := []struct {
		name    string
		env     map[string]string
		home    string
		want    string
		wantErr bool
	}{
		{name: "env", env: map[string]string{"RAY_AUTH_TOKEN": "from-env", "RAY_AUTH_TOKEN_PATH": file}, home: home, want: "from-env"},
		{name: "path", env: map[string]string{"RAY_AUTH_TOKEN_PATH": file}, home: home, want: "from-file"},
		{name: "path unreadable", env: map[string]string{"RAY_AUTH_TOKEN_PATH": file + ".missing"}, home: home, wantErr: true},
		{name: "home", home: home, want: "from-home"},
		{name: "none", home: t.TempDir(), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := LoadToken(func(k string) string { return tt.env[k] }, tt.home)
			if (err != nil) != tt.wantErr || tok.Value != tt.want {
				t.Errorf("got %+v, %v; want %q (error %v)", tok, err, tt.want, tt.wantErr)
			}
		})
	}
}
