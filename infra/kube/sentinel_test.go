package kube_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flavormonk/flavormonk/infra/kube"
)

// TestSentinelFailover runs the rendered sentinel.conf on real Redis
// binaries on loopback: a primary and a replica configured as the rollout
// configures the Hetzner hosts (requirepass, masterauth, replicaof), three
// Sentinels with the rendered file. The Sentinels require the password,
// find each other, and promote the replica when the primary dies.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five Redis processes and waits for a failover")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("FLAVORMONK_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("redis-server is not installed (apt-get install -y redis-server; scripts/deps.sh does it)")
		}
		t.Skip("redis-server is not installed")
	}
	const pw = "test-password-0123456789abcdef"
	dir := t.TempDir()
	start := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		log, _ := os.Create(filepath.Join(dir, name+".log"))
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	primaryPort, replicaPort := freePort(t), freePort(t)
	base := []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", pw, "--masterauth", pw}
	primary := start("primary", append([]string{"--port", strconv.Itoa(primaryPort)}, base...)...)
	start("replica", append([]string{"--port", strconv.Itoa(replicaPort), "--replicaof", "127.0.0.1", strconv.Itoa(primaryPort)}, base...)...)
	waitFor(t, 20*time.Second, func() error {
		r, err := call(replicaPort, pw, "INFO", "replication")
		if err == nil && !strings.Contains(fmt.Sprint(r), "master_link_status:up") {
			err = errors.New("replica not linked yet")
		}
		return err
	})

	conf := kube.SentinelConf(&kube.SentinelArgs{Master: "flavormonk", Primary: "127.0.0.1", Port: primaryPort}, pw)
	var sentinels []int
	for i := 0; i < 3; i++ {
		port := freePort(t)
		path := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", i))
		// The pod copies the file to a writable place; here each gets its
		// own copy and port (a later port line wins).
		if err := os.WriteFile(path, []byte(conf+fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n", port, dir)), 0o600); err != nil {
			t.Fatal(err)
		}
		start(fmt.Sprintf("sentinel-%d", i), path, "--sentinel")
		sentinels = append(sentinels, port)
	}
	s := sentinels[0]
	waitFor(t, 20*time.Second, func() error { _, err := call(s, pw, "PING"); return err })
	if _, err := call(s, "", "PING"); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("a Sentinel answered without the password: %v", err)
	}
	// The Sentinels find each other (hello messages, sentinel-pass).
	waitFor(t, 30*time.Second, func() error {
		r, err := call(s, pw, "SENTINEL", "CKQUORUM", "flavormonk")
		if err == nil && !strings.Contains(fmt.Sprint(r), "OK 3 usable") {
			err = fmt.Errorf("quorum: %v", r)
		}
		return err
	})
	addr, err := call(s, pw, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "flavormonk")
	if err != nil || fmt.Sprint(addr) != fmt.Sprintf("[127.0.0.1 %d]", primaryPort) {
		t.Fatalf("master %v %v", addr, err)
	}

	// The primary dies: the replica is promoted.
	_ = primary.Process.Kill()
	_ = primary.Wait()
	waitFor(t, 60*time.Second, func() error {
		addr, err := call(sentinels[1], pw, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "flavormonk")
		if err == nil && fmt.Sprint(addr) != fmt.Sprintf("[127.0.0.1 %d]", replicaPort) {
			err = fmt.Errorf("master still %v", addr)
		}
		return err
	})
	role, err := call(replicaPort, pw, "ROLE")
	if err != nil || !strings.HasPrefix(fmt.Sprint(role), "[master") {
		t.Errorf("the replica's role after failover: %v %v", role, err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitFor(t *testing.T, limit time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", limit, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// call sends one command (after AUTH when pw is set) in RESP and returns
// the reply: a string, an int64, nil or a []any.
func call(port int, pw string, args ...string) (any, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	send := func(a []string) (any, error) {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(a))
		for _, s := range a {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(s), s)
		}
		if _, err := c.Write([]byte(b.String())); err != nil {
			return nil, err
		}
		return readReply(r)
	}
	if pw != "" {
		if _, err := send([]string{"AUTH", pw}); err != nil {
			return nil, err
		}
	}
	return send(args)
}

func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, errors.New(line[1:])
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = readReply(r); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}
