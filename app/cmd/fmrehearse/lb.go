package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// haproxy is a real HAProxy (Debian's package) in front of the hosts, with
// active health checks like the cloud load balancers': GET /readyz every
// second, a server in after 3 passes and out after 2 failures. Its checks
// (and traffic) leave from 127.0.0.2, another address than the apps'
// 127.0.0.1, so the app counts them as a load balancer's probes. It does
// not retry a request on a refused connection (retries 0): a restart the
// load balancer was not told about shows as failed requests, instead of
// being hidden by HAProxy's own retries.
type haproxy struct {
	p    *proc
	url  string
	sock string
}

const lbSource = "127.0.0.2"

// The health check, the production one (infra/plan: 10 s, 3 down, 3 up,
// timeout 5 s) shortened: every second, 2 failures out, 3 passes in.
const (
	lbInter        = time.Second
	lbFall         = 2
	lbRise         = 3
	lbCheckTimeout = time.Second // /readyz pings Postgres: a loaded machine needs the room
	// lbDrain is the drain the hosts behind it get, derived as
	// plan.DrainDelay derives upgrade's: the longest the balancer may keep
	// sending after /readyz starts failing (fall × inter), plus a check
	// sent just before SIGTERM that is answered 200 (its timeout).
	lbDrain = lbInter*lbFall + lbCheckTimeout
)

func startHAProxy(ctx context.Context, work string, servers map[string]string) (*haproxy, error) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/haproxy"); serr != nil {
			return nil, fmt.Errorf("haproxy is not installed (scripts/deps.sh installs it)")
		}
		bin = "/usr/sbin/haproxy"
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	h := &haproxy{url: fmt.Sprintf("http://127.0.0.1:%d", port), sock: filepath.Join(work, "haproxy.sock")}
	var b strings.Builder
	fmt.Fprintf(&b, `global
	stats socket %s mode 600 level admin
	log stdout format raw local0 notice

defaults
	mode http
	log global
	timeout connect 2s
	timeout client 30s
	timeout server 30s
	timeout check %s
	retries 0

frontend web
	bind 127.0.0.1:%d
	option forwardfor
	default_backend app

backend app
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
	default-server check inter %s rise %d fall %d source %s
`, h.sock, lbCheckTimeout, port, lbInter, lbRise, lbFall, lbSource)
	for _, name := range sortedKeys(servers) {
		fmt.Fprintf(&b, "\tserver %s %s\n", name, servers[name])
	}
	cfg := filepath.Join(work, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, bin, "-c", "-f", cfg).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy -c: %v: %s", err, strings.TrimSpace(string(out)))
	}
	// -db: stay in the foreground, so it is a child that dies with us.
	if h.p, err = start("haproxy", exec.Command(bin, "-db", "-f", cfg), filepath.Join(work, "haproxy.log")); err != nil {
		return nil, err
	}
	return h, nil
}

// status is each server's state as HAProxy sees it ("UP", "DOWN",
// "UP 1/2", …), read from its stats socket.
func (h *haproxy) status() (map[string]string, error) {
	c, err := net.DialTimeout("unix", h.sock, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("show stat\n")); err != nil {
		return nil, err
	}
	r := csv.NewReader(bufio.NewReader(c))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("haproxy: empty stats")
	}
	col := map[string]int{}
	for i, n := range recs[0] {
		col[strings.TrimPrefix(n, "# ")] = i
	}
	out := map[string]string{}
	for _, rec := range recs[1:] {
		if len(rec) <= col["status"] || rec[col["pxname"]] != "app" {
			continue
		}
		if sv := rec[col["svname"]]; sv != "FRONTEND" && sv != "BACKEND" {
			out[sv] = rec[col["status"]]
		}
	}
	return out, nil
}

// waitUp waits until HAProxy has every server UP.
func (h *haproxy) waitUp(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var last map[string]string
	for {
		st, err := h.status()
		if err == nil {
			last = st
			up := len(st) > 0
			for _, s := range st {
				up = up && s == "UP"
			}
			if up {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("HAProxy did not see every server UP within %s: %v (%w)", d, last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// caddy is a real Caddy (Debian's package), HTTP only on a free port, its
// admin API on another; the site imports the upstream snippet deploy.sh
// writes, like the production Caddyfile.
type caddy struct {
	p      *proc
	bin    string
	file   string
	admin  string
	url    string
	reload func(context.Context) error
}

func startCaddy(ctx context.Context, work, root string) (*caddy, error) {
	bin, err := exec.LookPath("caddy")
	if err != nil {
		return nil, fmt.Errorf("caddy is not installed (scripts/deps.sh installs it)")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	aport, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &caddy{bin: bin, admin: fmt.Sprintf("127.0.0.1:%d", aport), url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	dir := filepath.Join(root, "etc/caddy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	snippet := filepath.Join(dir, "flavormonk-upstream")
	if _, err := os.Stat(snippet); err != nil {
		// Before the first deploy: nothing to proxy to yet.
		if err := os.WriteFile(snippet, []byte("respond \"no app deployed yet\" 503\n"), 0o644); err != nil {
			return nil, err
		}
	}
	c.file = filepath.Join(dir, "Caddyfile")
	cfg := fmt.Sprintf(`{
	admin %s
	auto_https off
}

http://127.0.0.1:%d {
	import %s
}
`, c.admin, port, snippet)
	if err := os.WriteFile(c.file, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", c.file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(work, "caddy-data"), "XDG_CONFIG_HOME="+filepath.Join(work, "caddy-config"))
	if c.p, err = start("caddy", cmd, filepath.Join(work, "caddy.log")); err != nil {
		return nil, err
	}
	c.reload = func(ctx context.Context) error {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(cctx, c.bin, "reload", "--config", c.file, "--adapter", "caddyfile", "--address", c.admin).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	// Up when the admin API answers.
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		if conn, err := net.DialTimeout("tcp", c.admin, time.Second); err == nil {
			conn.Close()
			break
		}
		if c.p.exited() {
			return nil, fmt.Errorf("caddy did not start: %s", c.p.Log.Last(20))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("caddy's admin API did not answer (%w): %s", ctx.Err(), c.p.Log.Last(20))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return c, nil
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
