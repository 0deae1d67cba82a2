package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// service is a disposable Redis or Chroma started through its script
// (scripts/redis.sh, scripts/chroma.sh) on its own port and directory, so
// stopping it does not disturb the shared default instances.
type service struct {
	Kind   string `json:"kind"` // redis | chroma
	Script string `json:"script"`
	Port   int    `json:"port"`
	Dir    string `json:"dir"`
	URL    string `json:"-"`

	mu      sync.Mutex
	stopped bool
}

func (s *service) args(verb string) []string {
	return []string{verb, "--port", strconv.Itoa(s.Port), "--dir", s.Dir}
}

// startService starts a disposable instance and returns it with the URL
// its script printed.
func startService(ctx context.Context, kind, script, dir string, logFile string, d time.Duration) (*service, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &service{Kind: kind, Script: script, Port: port, Dir: dir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	out, err := runCmd(ctx, d, kind+" start", exec.Command(script, s.args("start")...), logFile)
	if err != nil {
		s.stop(context.Background()) // it may have half-started
		return nil, err
	}
	lines := strings.Fields(strings.TrimSpace(out))
	if len(lines) == 0 {
		s.stop(context.Background())
		return nil, fmt.Errorf("%s start printed no URL", script)
	}
	s.URL = lines[len(lines)-1]
	return s, nil
}

// stop stops the instance through its script (once); it returns how long
// that took.
func (s *service) stop(ctx context.Context) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return 0, nil
	}
	s.stopped = true
	t0 := time.Now()
	cmd := exec.Command(s.Script, s.args("stop")...)
	_, err := runCmd(ctx, 30*time.Second, s.Kind+" stop", cmd, filepath.Join(s.Dir, "..", "services.log"))
	return time.Since(t0), err
}

// redisAddr splits redis://:password@host:port/db into what the app takes.
func redisAddr(raw string) (addr, password string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "redis" || u.Host == "" {
		return "", "", fmt.Errorf("redis.sh printed %q, not a redis:// URL", raw)
	}
	if u.User != nil {
		password, _ = u.User.Password()
	}
	return u.Host, password, nil
}

// freshDatabase creates a new database on the cluster of baseURL and
// returns its URL.
func freshDatabase(ctx context.Context, baseURL, name string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, baseURL)
	if err != nil {
		return "", fmt.Errorf("connecting to Postgres: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("creating database %s: %w", name, err)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// dropDatabase drops a rehearsal database, ending its sessions.
func dropDatabase(baseURL, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// state records what a run started, in its work directory, so a later run
// can clean up after one that was killed (SIGKILL leaves the daemonized
// Redis and Chroma running; the app replicas die with fmrehearse).
type state struct {
	PID      int        `json:"pid"`
	Database string     `json:"database,omitempty"`
	Services []*service `json:"services,omitempty"`
}

func (st *state) save(dir string) {
	b, _ := json.Marshal(st)
	_ = os.WriteFile(filepath.Join(dir, "fmrehearse.json"), b, 0o600)
}

// reapStale stops what killed runs left behind: their disposable services,
// their databases, their work directories.
func reapStale(pgURL string, logf func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "fmrehearse-*", "fmrehearse.json"))
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var st state
		if json.Unmarshal(b, &st) != nil || st.PID <= 0 || st.PID == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", st.PID)); err == nil {
			continue // still running
		}
		logf("cleaning up after an earlier run (pid %d) in %s", st.PID, filepath.Dir(f))
		for _, s := range st.Services {
			if s.Script != "" && s.Port > 0 && s.Dir != "" {
				_, _ = s.stop(context.Background())
			}
		}
		if st.Database != "" && pgURL != "" {
			_ = dropDatabase(pgURL, st.Database)
		}
		_ = os.RemoveAll(filepath.Dir(f))
	}
}
