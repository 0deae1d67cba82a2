package web

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/assistant"
	"github.com/flavormonk/flavormonk/app/config"
)

func TestHeadAnswersLikeGet(t *testing.T) {
	env := newAccEnv(t)
	id := env.recipes[0].ID
	for _, path := range []string{"/", "/recipes/" + id, "/about", "/static/app.css", "/healthz", "/readyz",
		"/api/v1/recipes?q=a", "/api/v1/recipes/" + id, "/api/v1/openapi.json", "/login"} {
		t.Run(path, func(t *testing.T) {
			get, err := http.Get(env.srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			get.Body.Close()
			head, err := http.Head(env.srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(head.Body)
			head.Body.Close()
			if head.StatusCode != http.StatusOK || get.StatusCode != http.StatusOK {
				t.Fatalf("HEAD %d, GET %d; want 200 for both", head.StatusCode, get.StatusCode)
			}
			if len(body) != 0 {
				t.Fatalf("HEAD returned a %d-byte body", len(body))
			}
			if h, g := head.Header.Get("Content-Type"), get.Header.Get("Content-Type"); h != g {
				t.Fatalf("HEAD Content-Type %q, GET %q", h, g)
			}
			// An uptime monitor's HEAD every minute must not leave a
			// visitor session in the store each time.
			for _, ck := range head.Cookies() {
				if ck.Name == visitorCookie {
					t.Fatalf("HEAD created a visitor session")
				}
			}
		})
	}
	// Only GET routes answer HEAD.
	req, _ := http.NewRequest(http.MethodHead, env.srv.URL+"/logout", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("HEAD on a POST-only route: %d, want 405", res.StatusCode)
	}
}

func TestErrorsAreNeverStored(t *testing.T) {
	env := newAccEnv(t)
	for _, c := range []struct{ method, path, accept string }{
		{"GET", "/api/v1/recipes/nope", ""},
		{"GET", "/recipes/nope", "text/html"},
		{"GET", "/static/nope.css", ""},
		{"GET", "/api/v1/recipes?limit=0", ""},
		{"DELETE", "/api/v1/recipes", ""},
	} {
		req, _ := http.NewRequest(c.method, env.srv.URL+c.path, nil)
		req.Header.Set("Accept", c.accept)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode < 400 {
			t.Fatalf("%s %s: %d, want an error", c.method, c.path, res.StatusCode)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s %s: %d with Cache-Control %q, want no-store", c.method, c.path, res.StatusCode, cc)
		}
	}
}

// unsized hides a body's length, so the client sends it chunked.
type unsized struct{ io.Reader }

func TestChunkedBodyOverTheLimitIsTooLarge(t *testing.T) {
	env := newAccEnv(t, func(c *config.Config) { c.MaxBodyBytes = 2048 })
	big := `{"have":["` + strings.Repeat("a", 4096) + `"]}`
	for _, chunked := range []bool{true, false} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = unsized{body}
		}
		req, _ := http.NewRequest("POST", env.srv.URL+"/api/v1/pantry", body)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb ErrorBody
		_ = json.NewDecoder(res.Body).Decode(&eb)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge || eb.Error.Code != flavormonk.ETOOLARGE {
			t.Fatalf("chunked=%v: %d %+v, want 413 %s", chunked, res.StatusCode, eb.Error, flavormonk.ETOOLARGE)
		}
	}
}

// rawRequest sends head and then the body bytes one by one, every gap,
// and returns the status line the server answers with ("" if it closed
// the connection without one) and how long that took.
func rawRequest(t *testing.T, addr, head string, body []byte, gap time.Duration) (string, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	go func() {
		for _, b := range body {
			if _, err := conn.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(gap)
		}
	}()
	// Without a bound on body reading, the server waits for ever: give
	// up well after the configured timeout.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("no answer %s after the headers: the slow body holds the connection", time.Since(start).Round(time.Millisecond))
	}
	return strings.TrimSpace(line), time.Since(start)
}

func TestSlowBodyIsCutOff(t *testing.T) {
	env := newAccEnvWith(t, nil, func(o *Options) { useAssistant(t, o, assistant.Options{}, 100, time.Second, &slowModel{}) },
		func(c *config.Config) { c.RequestTimeout = 500 * time.Millisecond })
	addr := strings.TrimPrefix(env.srv.URL, "http://")
	for _, c := range []struct {
		name, path string
		body       []byte
		gap        time.Duration
	}{
		{"one byte of 1000", "/api/v1/pantry", []byte("{"), 0},
		{"a byte every 200ms", "/api/v1/pantry", []byte(strings.Repeat(" ", 1000)), 200 * time.Millisecond},
		{"stream route, one byte", "/api/v1/ask", []byte("{"), 0},
		{"form, a byte every 200ms", "/login", []byte(strings.Repeat("a", 1000)), 200 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			ct := "application/json"
			if c.path == "/login" {
				ct = "application/x-www-form-urlencoded"
			}
			head := "POST " + c.path + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: " + ct + "\r\nContent-Length: 1000\r\n\r\n"
			status, took := rawRequest(t, addr, head, c.body, c.gap)
			if status != "" && !strings.HasPrefix(status, "HTTP/1.1 408") {
				t.Fatalf("answered %q; want 408 or a closed connection", status)
			}
			if took > 3*time.Second {
				t.Fatalf("cut off after %s; the request timeout is 500ms", took)
			}
		})
	}
}

func TestLongStreamOutlivesTheRequestTimeout(t *testing.T) {
	env := newAccEnvWith(t, nil, func(o *Options) {
		useAssistant(t, o, assistant.Options{}, 100, 100*time.Millisecond, &slowModel{delay: 1200 * time.Millisecond})
	}, func(c *config.Config) { c.RequestTimeout = 300 * time.Millisecond })
	q := env.recipes[0].Name
	res := postAsk(t, env.srv.URL+"/api/v1/ask", `{"question":"how do I make `+q+`?"}`, nil)
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	start := time.Now()
	events, _ := readSSE(t, res.Body)
	if len(events) == 0 || events[len(events)-1].kind != "done" {
		t.Fatalf("stream ended after %s without done: %+v", time.Since(start).Round(time.Millisecond), events)
	}
}
