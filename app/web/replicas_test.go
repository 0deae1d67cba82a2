package web

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/cachetest"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/internal/redistest"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	"github.com/flavormonk/flavormonk/app/redis"
	"github.com/flavormonk/flavormonk/app/search"
	"github.com/flavormonk/flavormonk/app/sqlite"
	"github.com/flavormonk/flavormonk/app/synth"
)

// replicas starts n servers on one SQLite store and one cache (nil: none),
// as replicas behind a load balancer. Requests come through a trusted
// proxy (loopback), so X-Forwarded-For names the client.
func replicas(t testing.TB, n int, c flavormonk.Cache, opts ...func(*config.Config)) []*accEnv {
	return replicasWith(t, n, c, nil, opts...)
}

// replicasWith is replicas with the account store wrapped by wrap (nil:
// as is), e.g. to count the store's session reads.
func replicasWith(t testing.TB, n int, c flavormonk.Cache, wrap func(flavormonk.AccountStore) flavormonk.AccountStore, opts ...func(*config.Config)) []*accEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	recipes := synth.Generate(5, 1)
	if _, err := st.UpsertRecipes(ctx, recipes); err != nil {
		t.Fatal(err)
	}
	var envs []*accEnv
	for range n {
		ix := search.New()
		if err := ix.Load(ctx, st); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(func(k string) (string, bool) {
			if k == "FLAVORMONK_TRUSTED_PROXIES" {
				return "127.0.0.1/32", true
			}
			return "", false
		}, os.ReadFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RateLimit, cfg.SecureCookies = 0, false
		if _, ok := c.(*redis.Cache); ok {
			cfg.CacheBackend = config.CacheRedis
		}
		for _, o := range opts {
			o(cfg)
		}
		o := testOptions(t, cfg, st, ix)
		if c != nil {
			useCache(t, &o, c, time.Minute)
		}
		var acc flavormonk.AccountStore = st
		if wrap != nil {
			acc = wrap(st)
		}
		ta := withTestAccounts(&o, cfg, acc, st, c)
		s, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		s.SetReady(true)
		srv := httptest.NewServer(s.Echo)
		t.Cleanup(srv.Close)
		envs = append(envs, &accEnv{srv: srv, st: st, recipes: recipes, server: s, acc: ta, cfg: cfg})
	}
	return envs
}

// fresh returns a client address unique to this run (the test Redis is
// shared between runs).
func freshIP() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("10.%d.%d.%d", b[0], b[1], b[2])
}

// Log-in throttling and the sign-up limit count across two replicas on
// one Redis: alternating replicas does not double anyone's attempts.
func TestSharedLimitsAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2, redistest.Cache(t, servicetest.RedisURL(t)))
	ip := freshIP()
	xff := map[string]string{"X-Forwarded-For": ip}
	b := rs[0].browser(t)
	if r := b.post("/signup", "/signup", url.Values{"email": {"victim@example.com"}, "password": {pw}}, xff); r.status != http.StatusSeeOther {
		t.Fatalf("signup: %d", r.status)
	}
	attacker := rs[0].browser(t)
	aip := freshIP()
	login := func(i int, email, password, from string) resp {
		attacker.env = rs[i%2]
		return attacker.post("/login", "/login", url.Values{"email": {email}, "password": {password}},
			map[string]string{"X-Forwarded-For": from})
	}
	for i := range 5 {
		if r := login(i, "victim@example.com", "wrong password!", aip); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.status)
		}
	}
	// Three attempts on one replica and two on the other: the account is
	// locked to the attacker's network on both, even with the right
	// password...
	for i := range 2 {
		if r := login(i, "victim@example.com", pw, aip); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Fatalf("replica %d after 5 shared failures: %d", i, r.status)
		}
	}
	// ...but not to the owner, from their own network.
	for i := range 2 {
		owner := rs[i].browser(t)
		if r := owner.post("/login", "/login", url.Values{"email": {"victim@example.com"}, "password": {pw}},
			map[string]string{"X-Forwarded-For": freshIP()}); r.status != http.StatusSeeOther {
			t.Fatalf("replica %d: the owner is locked out by the attacker: %d", i, r.status)
		}
	}
	// IPv6: the addresses of one /64 are one network.
	for i := range 5 {
		if r := login(i, "victim@example.com", "wrong password!", fmt.Sprintf("2001:db8:77:1::%x", i+1)); r.status != http.StatusUnauthorized {
			t.Fatalf("ipv6 attempt %d: %d", i, r.status)
		}
	}
	if r := login(0, "victim@example.com", pw, "2001:db8:77:1:abcd::1"); r.status != http.StatusTooManyRequests {
		t.Fatalf("another address of the /64 escaped the limit: %d", r.status)
	}
	// Per IP: 20 failures across replicas from one client block it on both.
	for i := range 20 {
		attacker.env = rs[i%2]
		r := attacker.post("/login", "/login", url.Values{"email": {fmt.Sprintf("spray%d@example.com", i)}, "password": {"wrong password!"}}, xff)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("spray %d: %d", i, r.status)
		}
	}
	for i := range 2 {
		attacker.env = rs[i]
		if r := attacker.post("/login", "/login", url.Values{"email": {"other@example.com"}, "password": {"wrong password!"}}, xff); r.status != http.StatusTooManyRequests {
			t.Fatalf("replica %d after 20 failures from one IP: %d", i, r.status)
		}
	}
	// Behind the trusted proxy, an address the client put in front of its
	// own in X-Forwarded-For is not believed: the block holds.
	spoofed := map[string]string{"X-Forwarded-For": freshIP() + ", " + ip}
	if r := attacker.post("/login", "/login", url.Values{"email": {"other@example.com"}, "password": {"wrong password!"}}, spoofed); r.status != http.StatusTooManyRequests {
		t.Fatalf("spoofed X-Forwarded-For behind the proxy escaped the IP block: %d", r.status)
	}
	// Sign-ups: 10 per hour per IP across both replicas (one used above).
	sip := map[string]string{"X-Forwarded-For": freshIP()}
	for i := range signupsPerHour {
		nb := rs[i%2].browser(t)
		if r := nb.post("/signup", "/signup", url.Values{"email": {fmt.Sprintf("s%d@example.com", i)}, "password": {pw}}, sip); r.status != http.StatusSeeOther {
			t.Fatalf("signup %d: %d", i, r.status)
		}
	}
	for i := range 2 {
		r := rs[i].browser(t).post("/signup", "/signup", url.Values{"email": {fmt.Sprintf("over%d@example.com", i)}, "password": {pw}}, sip)
		if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "too many sign-ups") || r.header.Get("Retry-After") == "" {
			t.Fatalf("replica %d, 11th signup: %d", i, r.status)
		}
	}
}

// With the cache down, each replica limits on its own: log-ins are still
// throttled, and nobody else is locked out.
func TestLimitsWithCacheDown(t *testing.T) {
	down := &cachetest.Down{}
	rs := replicas(t, 1, down)
	env := rs[0]
	env.browser(t).signup("victim@example.com")
	env.browser(t).signup("bystander@example.com")
	b := env.browser(t)
	for i := range 5 {
		if r := b.login("victim@example.com", "wrong password!"); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.status)
		}
	}
	if r := b.login("victim@example.com", pw); r.status != http.StatusTooManyRequests {
		t.Fatalf("cache down: no limit (%d)", r.status)
	}
	if r := env.browser(t).login("bystander@example.com", pw); r.status != http.StatusSeeOther {
		t.Fatalf("cache down: a bystander cannot log in (%d)", r.status)
	}
	if down.Calls.Load() == 0 {
		t.Fatal("the cache was never tried")
	}
}
