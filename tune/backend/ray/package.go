package ray

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"time"
)

// Package zips one executable as a working_dir package. The archive is
// byte-for-byte the same for the same binary, so its content-addressed URI
// is too and a cluster keeps one copy across studies.
func Package(exe []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: ExeName, Method: zip.Deflate, Modified: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(0o755)
	f, err := w.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(exe); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// upload makes the package available before each submission: asking for an
// existing package pins it again for Ray's grace period, which a package
// whose last job ended may otherwise outlive only briefly.
func (b *Backend) upload(ctx context.Context) (string, error) {
	b.mu.Lock()
	if b.pkg == nil {
		exe, err := os.ReadFile(b.Executable)
		if err != nil {
			b.mu.Unlock()
			return "", fmt.Errorf("read this program to ship it to the Ray cluster: %w", err)
		}
		if b.pkg, err = Package(exe); err != nil {
			b.mu.Unlock()
			return "", fmt.Errorf("package this program for the Ray cluster: %w", err)
		}
	}
	pkg := b.pkg
	b.mu.Unlock()
	uri, err := b.Jobs.UploadPackage(ctx, pkg)
	if err != nil {
		return "", fmt.Errorf("ship this program to the Ray cluster: %w", err)
	}
	return uri, nil
}
