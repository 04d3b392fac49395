// Package pgtest starts a private PostgreSQL server (Debian's package) for
// tests: its own data dir, a free port on 127.0.0.1, stopped at the end of
// the test. Without the binaries the test fails (make test installs them); under
// -short it is skipped.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
)

// BinDir is ATV_PG_BIN (make test sets it after installing the package),
// else the newest /usr/lib/postgresql/<v>/bin.
func BinDir() (string, error) {
	if dir := os.Getenv("ATV_PG_BIN"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err != nil {
			return "", fmt.Errorf("ATV_PG_BIN=%s: %w", dir, err)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(dirs) == 0 {
		return "", fmt.Errorf("PostgreSQL is not installed: run make test (it installs Debian's postgresql) or apt-get install postgresql")
	}
	sort.Strings(dirs)
	return filepath.Dir(dirs[len(dirs)-1]), nil
}

// asUser prefixes argv so it runs as the postgres user when we are root
// (initdb and postgres refuse to run as root); setpriv execs in place.
func asUser(argv []string) ([]string, error) {
	if os.Geteuid() != 0 {
		return argv, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user (from the postgresql package): %w", err)
	}
	return append([]string{"setpriv", "--reuid=" + u.Uid, "--regid=" + u.Gid, "--clear-groups", "--"}, argv...), nil
}

// Server is a running PostgreSQL.
type Server struct {
	port int
	n    int
}

// NewDB creates an empty database and returns its URL.
func (s *Server) NewDB(t testing.TB) string {
	t.Helper()
	s.n++
	name := fmt.Sprintf("db%d", s.n)
	db, _ := sql.Open("pgx", s.url("postgres"))
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	return s.url(name)
}

func (s *Server) url(db string) string {
	return fmt.Sprintf("postgresql://atv@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// Start runs a server for the rest of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a PostgreSQL server: not run with -short")
	}
	bin, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("/tmp", "atvpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, _ := user.Lookup("postgres")
		var uid, gid int
		fmt.Sscan(u.Uid, &uid)
		fmt.Sscan(u.Gid, &gid)
		os.Chown(dir, uid, gid)
	}
	data := filepath.Join(dir, "data")
	initdb, err := asUser([]string{filepath.Join(bin, "initdb"), "-D", data, "-U", "atv", "--auth=trust", "-E", "UTF8", "--no-sync"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := proc.Start(proc.Spec{Argv: initdb, LogFile: filepath.Join(dir, "initdb.log")})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if p.ExitCode() != 0 {
		t.Fatalf("initdb: %v", p.Err())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	server, _ := asUser([]string{filepath.Join(bin, "postgres"), "-D", data, "-p", fmt.Sprint(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=50"})
	srv, err := proc.Start(proc.Spec{Argv: server, LogFile: filepath.Join(dir, "server.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// SIGINT is PostgreSQL's "fast shutdown".
		srv.Signal(syscall.SIGINT)
		srv.KillAfter(ctx, 10*time.Second)
	})
	s := &Server{port: port}
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, _ := sql.Open("pgx", s.url("postgres"))
		err = db.Ping()
		db.Close()
		if err == nil {
			return s
		}
		if srv.Exited() || time.Now().After(deadline) {
			t.Fatalf("PostgreSQL did not start: %v\n%s", err, srv.Tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
