// Package gcs is a native client of a Ray cluster's Global Control Service
// (GCS) over gRPC: it finds a cluster, probes it, lists its nodes and
// resources, and reads and writes its internal key-value store. It never runs
// the ray CLI, so a probe costs one round trip instead of a Python start-up.
package gcs

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// DefaultPort is the GCS port `ray start --head` uses when none is given.
const DefaultPort = 6379

// ErrNoCluster means no reachable Ray cluster was found.
var ErrNoCluster = errors.New("no Ray cluster found")

// Address is a GCS address and where it came from.
type Address struct {
	HostPort string // host:port of the GCS
	Source   string // "--ray-address", "RAY_ADDRESS" or the bootstrap file's path
}

func (a Address) String() string { return a.HostPort }

// FindOptions says where to look for a cluster.
type FindOptions struct {
	// Address given by the user (a flag); it wins over everything else.
	Address string
	// TempDir is a Ray temp root to search first (as given to ray start --temp-dir).
	TempDir string
	// Getenv reads the environment (os.Getenv in production). Nil means an
	// empty environment.
	Getenv func(string) string
}

func (o FindOptions) getenv(k string) string {
	if o.Getenv == nil {
		return ""
	}
	return o.Getenv(k)
}

// BootstrapFile is the name of the file `ray start` writes into its temp
// root, holding the GCS address of the cluster it started.
const BootstrapFile = "ray_current_cluster"

// TempRoots lists the Ray temp roots in the order Ray itself resolves them.
func TempRoots(o FindOptions) []string {
	var roots []string
	add := func(p string) {
		if p == "" {
			return
		}
		for _, r := range roots {
			if r == p {
				return
			}
		}
		roots = append(roots, p)
	}
	add(o.TempDir)
	if v := o.getenv("RAY_TMPDIR"); v != "" {
		add(filepath.Join(v, "ray"))
	}
	if v := o.getenv("TMPDIR"); v != "" {
		add(filepath.Join(v, "ray"))
	}
	add("/tmp/ray")
	return roots
}

// FindAddress resolves the GCS address: the explicit address, then
// RAY_ADDRESS, then the bootstrap file of the first temp root that has one.
// It does not contact the cluster.
func FindAddress(o FindOptions) (Address, error) {
	if o.Address != "" && o.Address != "auto" {
		hp, err := normalize(o.Address)
		if err != nil {
			return Address{}, fmt.Errorf("--ray-address %q: %w", o.Address, err)
		}
		return Address{HostPort: hp, Source: "--ray-address"}, nil
	}
	if v := strings.TrimSpace(o.getenv("RAY_ADDRESS")); v != "" && v != "auto" {
		hp, err := normalize(v)
		if err != nil {
			return Address{}, fmt.Errorf("RAY_ADDRESS=%q: %w", v, err)
		}
		return Address{HostPort: hp, Source: "RAY_ADDRESS"}, nil
	}
	var looked []string
	for _, root := range TempRoots(o) {
		path := filepath.Join(root, BootstrapFile)
		b, err := os.ReadFile(path)
		if err != nil {
			looked = append(looked, root)
			continue
		}
		hp, err := normalize(strings.TrimSpace(string(b)))
		if err != nil {
			return Address{}, fmt.Errorf("%s: %w", path, err)
		}
		return Address{HostPort: hp, Source: path}, nil
	}
	return Address{}, fmt.Errorf("%w: RAY_ADDRESS is not set and there is no %s in %s", ErrNoCluster, BootstrapFile, strings.Join(looked, " or "))
}

// normalize turns the address forms users give into host:port.
func normalize(s string) (string, error) {
	switch {
	case strings.HasPrefix(s, "ray://"):
		return "", errors.New("a Ray Client (ray://) address; give the GCS address host:port instead (default port 6379)")
	case strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"):
		return "", errors.New("a dashboard (http) address; give the GCS address host:port instead (default port 6379)")
	}
	s = strings.TrimPrefix(s, "gcs://")
	if s == "" {
		return "", errors.New("empty address")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: Ray's default GCS port.
		if strings.Contains(s, "/") {
			return "", fmt.Errorf("not a host:port address")
		}
		return net.JoinHostPort(strings.Trim(s, "[]"), fmt.Sprint(DefaultPort)), nil
	}
	if host == "" || port == "" {
		return "", fmt.Errorf("not a host:port address")
	}
	return net.JoinHostPort(host, port), nil
}
