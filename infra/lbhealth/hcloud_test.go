package lbhealth_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flavormonk/flavormonk/infra/lbhealth"
	"github.com/flavormonk/flavormonk/infra/lbhealth/lbhealthtest"
)

const token = "hc-test-token"

const (
	lbID = 4711
	app1 = 1001
	app2 = 1002
	port = 8080
	poll = 3 * time.Second
	long = 3 * time.Minute
)

// fakeClock advances only when slept on, so the waits take no real time.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func watcher(t *testing.T, api *lbhealthtest.API) (*lbhealth.Hcloud, *fakeClock) {
	t.Helper()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	clock := newClock()
	return lbhealth.NewHcloud(lbhealth.NewClient(token, srv.URL), lbhealth.HcloudOptions{Interval: poll, Clock: clock}), clock
}

func lb(steps ...lbhealthtest.Step) lbhealthtest.LoadBalancer {
	return lbhealthtest.LoadBalancer{
		ID:       lbID,
		Services: []lbhealthtest.Service{{ListenPort: 443, DestinationPort: port}},
		Servers:  []int64{app1, app2},
		Steps:    steps,
	}
}

func health(s string) lbhealthtest.Step {
	return lbhealthtest.Step{Health: map[int64]string{app1: s, app2: lbhealthtest.Healthy}}
}

var target = lbhealth.Target{LoadBalancerID: lbID, ServerID: app1, Port: port}

// A target Hetzner has not checked yet (unknown), then failing, then
// passing: the wait ends on the second healthy poll in a row, and a
// single healthy poll between failures (a flap) does not end it.
func TestWaitsForTwoHealthyPollsInARow(t *testing.T) {
	api := lbhealthtest.New(token, lb(
		health(lbhealthtest.Unknown),
		health(lbhealthtest.Unhealthy),
		health(lbhealthtest.Healthy), // a flap
		health(lbhealthtest.Unhealthy),
		health(lbhealthtest.Healthy),
		health(lbhealthtest.Healthy),
	))
	w, clock := watcher(t, api)
	if err := w.WaitHealthy(context.Background(), target, long); err != nil {
		t.Fatal(err)
	}
	if got := api.Gets(lbID); got != 6 {
		t.Errorf("asked %d times, want 6 (done on the second healthy poll in a row)", got)
	}
	if len(clock.slept) != 5 || clock.slept[0] != poll {
		t.Errorf("slept %v, want 5 × %s", clock.slept, poll)
	}
}

// 500s between polls are retried at the next interval, and a failed poll
// breaks the healthy streak.
func TestRetriesServerErrors(t *testing.T) {
	fault := lbhealthtest.Step{HTTPStatus: 500}
	api := lbhealthtest.New(token, lb(
		health(lbhealthtest.Unknown), fault,
		health(lbhealthtest.Healthy), fault,
		health(lbhealthtest.Healthy), fault, fault,
		health(lbhealthtest.Healthy),
		health(lbhealthtest.Healthy),
	))
	w, _ := watcher(t, api)
	if err := w.WaitHealthy(context.Background(), target, long); err != nil {
		t.Fatal(err)
	}
	if got := api.Gets(lbID); got != 9 {
		t.Errorf("asked %d times, want 9", got)
	}
}

func TestNeverHealthyTimesOut(t *testing.T) {
	api := lbhealthtest.New(token, lb(health(lbhealthtest.Unknown), health(lbhealthtest.Unhealthy)))
	w, clock := watcher(t, api)
	start := clock.Now()
	err := w.WaitHealthy(context.Background(), target, 10*time.Second)
	var e *lbhealth.Error
	if !errors.As(err, &e) || !errors.Is(err, lbhealth.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout *Error", err)
	}
	if waited := clock.Now().Sub(start); waited != 10*time.Second {
		t.Errorf("waited %s, want exactly the timeout", waited)
	}
	// 0, 3, 6, 9 and 10 s: the last poll is at the deadline.
	if got := api.Gets(lbID); got != 5 {
		t.Errorf("asked %d times, want 5", got)
	}
	msg := err.Error()
	for _, want := range []string{"load balancer 4711", "server 1001", "port 8080", "10s",
		"last seen: listen port 443 unhealthy (unexpected_http_status, HTTP 503)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}

// A timeout while the API fails says what the API answered.
func TestTimeoutNamesTheLastAPIError(t *testing.T) {
	api := lbhealthtest.New(token, lb(health(lbhealthtest.Unhealthy), lbhealthtest.Step{HTTPStatus: 500}))
	w, _ := watcher(t, api)
	err := w.WaitHealthy(context.Background(), target, 5*time.Second)
	if !errors.Is(err, lbhealth.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	msg := err.Error()
	for _, want := range []string{"last seen: listen port 443 unhealthy", "last API error:", "server_error"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}

func TestServerNotATarget(t *testing.T) {
	api := lbhealthtest.New(token, lb(health(lbhealthtest.Healthy)))
	w, _ := watcher(t, api)
	err := w.WaitHealthy(context.Background(), lbhealth.Target{LoadBalancerID: lbID, ServerID: 999, Port: port}, long)
	if !errors.Is(err, lbhealth.ErrNotTarget) {
		t.Fatalf("err = %v, want ErrNotTarget", err)
	}
	if got := api.Gets(lbID); got != 1 {
		t.Errorf("asked %d times, want 1 (a missing target is not retried)", got)
	}
	msg := err.Error()
	for _, want := range []string{"load balancer 4711", "server 999", "not a target", "[1001 1002]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}

func TestNoSuchLoadBalancer(t *testing.T) {
	w, _ := watcher(t, lbhealthtest.New(token))
	err := w.WaitHealthy(context.Background(), target, long)
	if !errors.Is(err, lbhealth.ErrNoLoadBalancer) || !strings.Contains(err.Error(), "load balancer 4711") {
		t.Fatalf("err = %v, want ErrNoLoadBalancer naming it", err)
	}
}

// No service sends the server's port traffic (a load balancer made in
// this run, whose service comes after the rollout; or scale's node-port
// service before the edge moves it back): nothing to wait for.
func TestNoServiceOnThePort(t *testing.T) {
	for name, services := range map[string][]lbhealthtest.Service{
		"none":       nil,
		"other port": {{ListenPort: 443, DestinationPort: 30080}},
	} {
		t.Run(name, func(t *testing.T) {
			l := lb(health(lbhealthtest.Unhealthy))
			l.Services = services
			api := lbhealthtest.New(token, l)
			w, _ := watcher(t, api)
			if err := w.WaitHealthy(context.Background(), target, long); err != nil {
				t.Fatal(err)
			}
			if got := api.Gets(lbID); got != 1 {
				t.Errorf("asked %d times, want 1", got)
			}
		})
	}
}

// Every service to the port counts: healthy on one is not enough.
func TestEveryServiceMustBeHealthy(t *testing.T) {
	l := lb(health(lbhealthtest.Healthy))
	l.Services = append(l.Services, lbhealthtest.Service{ListenPort: 80, DestinationPort: port})
	api := lbhealthtest.New(token, l)
	w, _ := watcher(t, api)
	if err := w.WaitHealthy(context.Background(), target, long); err != nil {
		t.Fatal(err)
	}
	l.Steps = []lbhealthtest.Step{health(lbhealthtest.Unhealthy)}
	api = lbhealthtest.New(token, l)
	w, _ = watcher(t, api)
	err := w.WaitHealthy(context.Background(), target, 6*time.Second)
	if !errors.Is(err, lbhealth.ErrTimeout) || !strings.Contains(err.Error(), "listen port 80 unhealthy") || !strings.Contains(err.Error(), "listen port 443 unhealthy") {
		t.Fatalf("err = %v, want a timeout listing both services", err)
	}
}

func TestContextCancelled(t *testing.T) {
	api := lbhealthtest.New(token, lb(health(lbhealthtest.Unknown)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api.OnGet(func(_ int64, n int) {
		if n == 3 {
			cancel()
		}
	})
	w, _ := watcher(t, api)
	err := w.WaitHealthy(ctx, target, long)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "server 1001") {
		t.Fatalf("err = %v, want context.Canceled naming the server", err)
	}
	if got := api.Gets(lbID); got != 3 {
		t.Errorf("asked %d times after the cancel, want 3", got)
	}
}

// The token goes to the API as a bearer token; one the API refuses ends
// the wait at once, with what the API said.
func TestWrongToken(t *testing.T) {
	api := lbhealthtest.New("another-token", lb(health(lbhealthtest.Healthy)))
	w, clock := watcher(t, api)
	err := w.WaitHealthy(context.Background(), target, long)
	if !errors.Is(err, lbhealth.ErrRefused) || !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("err = %v, want ErrRefused naming the API's answer", err)
	}
	if len(clock.slept) != 0 {
		t.Errorf("slept %v before giving up on a refused token", clock.slept)
	}
}
