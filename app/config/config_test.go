package config_test

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/config"
)

func env(m map[string]string) config.Getenv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func noFiles(string) ([]byte, error) { return nil, os.ErrNotExist }

func parse(t *testing.T, m map[string]string) (*config.Config, error) {
	t.Helper()
	return config.Parse(env(m), noFiles)
}

func wantFieldErr(t *testing.T, err error, field, contains string) {
	t.Helper()
	var fe *flavormonk.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v, want *flavormonk.Error on %s", err, field)
	}
	if fe.Field != field || fe.Code != flavormonk.EINVALID {
		t.Fatalf("error field/code = %s/%s (%v), want %s/invalid", fe.Field, fe.Code, err, field)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Fatalf("error %q does not contain %q", err, contains)
	}
}

func TestLocalDefaults(t *testing.T) {
	c, err := parse(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Tier != config.TierLocal || c.Addr != ":8080" || c.MetricsAddr != "127.0.0.1:9090" ||
		c.StoreDriver != config.StoreSQLite || c.SearchMode != config.SearchLexical ||
		c.CacheBackend != config.CacheMemory || c.VectorBackend != config.VectorNone ||
		!reflect.DeepEqual(c.InferenceChain, []string{config.ProviderOffline}) || c.SecureCookies {
		t.Fatalf("unexpected local defaults: %+v", c)
	}
}

func TestTierPresets(t *testing.T) {
	base := map[string]string{
		"FLAVORMONK_POSTGRES_URL": "postgres://u:p@db:5432/fm",
		"OPENAI_API_KEY":          "sk-test",
		"REPLICATE_API_TOKEN":     "r8-test",
		"FLAVORMONK_CHROMA_URL":   "http://10.0.0.5:8000",
		"FLAVORMONK_REDIS_ADDRS":  "10.0.0.6:6379",
	}
	cases := []struct {
		tier   string
		store  string
		search string
		cache  string
		chain  string
	}{
		{"mvp", "postgres", "lexical", "memory", "openai"},
		{"upgrade", "postgres", "hybrid", "redis", "replicate,openai"},
		{"scale", "postgres", "hybrid", "redis", "replicate,openai"},
	}
	for _, tc := range cases {
		t.Run(tc.tier, func(t *testing.T) {
			m := map[string]string{"FLAVORMONK_TIER": tc.tier}
			for k, v := range base {
				m[k] = v
			}
			c, err := parse(t, m)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{c.StoreDriver, c.SearchMode, c.CacheBackend, strings.Join(c.InferenceChain, ",")}
			want := []string{tc.store, tc.search, tc.cache, tc.chain}
			if !reflect.DeepEqual(got, want) || !c.SecureCookies {
				t.Fatalf("got %v secure=%v, want %v secure=true", got, c.SecureCookies, want)
			}
			if c.OpenAIAPIKey != "sk-test" || c.ReplicateAPIToken != "r8-test" {
				t.Fatal("vendor variables were not honoured")
			}
		})
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		field    string
		contains string
	}{
		{"unknown tier", map[string]string{"FLAVORMONK_TIER": "huge"}, "FLAVORMONK_TIER", "allowed: local, mvp, upgrade, scale"},
		{"unknown store", map[string]string{"FLAVORMONK_STORE": "mysql"}, "FLAVORMONK_STORE", "allowed: sqlite, postgres"},
		{"mvp needs postgres url", map[string]string{"FLAVORMONK_TIER": "mvp", "OPENAI_API_KEY": "k"}, "FLAVORMONK_POSTGRES_URL", "must be set"},
		{"mvp needs openai key", map[string]string{"FLAVORMONK_TIER": "mvp", "FLAVORMONK_POSTGRES_URL": "postgres://x"}, "OPENAI_API_KEY", "must be set"},
		{"bad addr", map[string]string{"FLAVORMONK_ADDR": "8080"}, "FLAVORMONK_ADDR", "host:port"},
		{"same addrs", map[string]string{"FLAVORMONK_ADDR": "127.0.0.1:9090"}, "FLAVORMONK_METRICS_ADDR", "must differ"},
		{"bad duration", map[string]string{"FLAVORMONK_REQUEST_TIMEOUT": "ten"}, "FLAVORMONK_REQUEST_TIMEOUT", "not a duration"},
		{"duration range", map[string]string{"FLAVORMONK_REQUEST_TIMEOUT": "1ms"}, "FLAVORMONK_REQUEST_TIMEOUT", "outside"},
		{"bad drain delay", map[string]string{"FLAVORMONK_DRAIN_DELAY": "30"}, "FLAVORMONK_DRAIN_DELAY", "not a duration"},
		{"negative drain delay", map[string]string{"FLAVORMONK_DRAIN_DELAY": "-1s"}, "FLAVORMONK_DRAIN_DELAY", "outside 0s..10m0s"},
		{"bad int", map[string]string{"FLAVORMONK_RATE_LIMIT": "-3"}, "FLAVORMONK_RATE_LIMIT", "whole number"},
		{"bad bool", map[string]string{"FLAVORMONK_SEED": "maybe"}, "FLAVORMONK_SEED", "allowed: true, false"},
		{"bad provider", map[string]string{"FLAVORMONK_INFERENCE": "offline,gpt"}, "FLAVORMONK_INFERENCE", "allowed"},
		{"duplicate provider", map[string]string{"FLAVORMONK_INFERENCE": "offline,offline"}, "FLAVORMONK_INFERENCE", "twice"},
		{"empty chain", map[string]string{"FLAVORMONK_INFERENCE": " , "}, "FLAVORMONK_INFERENCE", "at least one"},
		{"hybrid needs vectors", map[string]string{"FLAVORMONK_SEARCH": "hybrid"}, "FLAVORMONK_VECTOR", "hybrid"},
		{"chroma needs url", map[string]string{"FLAVORMONK_VECTOR": "chroma"}, "FLAVORMONK_CHROMA_URL", "must be set"},
		{"bad url", map[string]string{"FLAVORMONK_CHROMA_URL": "ftp://x"}, "FLAVORMONK_CHROMA_URL", "http(s) URL"},
		{"redis needs addrs", map[string]string{"FLAVORMONK_CACHE": "redis"}, "FLAVORMONK_REDIS_ADDRS", "at least one"},
		{"redis bad addr", map[string]string{"FLAVORMONK_REDIS_ADDRS": "redis"}, "FLAVORMONK_REDIS_ADDRS", "host:port"},
		{"sentinel needs master", map[string]string{"FLAVORMONK_CACHE": "redis", "FLAVORMONK_REDIS_ADDRS": "a:26379", "FLAVORMONK_REDIS_MODE": "sentinel"}, "FLAVORMONK_REDIS_SENTINEL_MASTER", "must be set"},
		{"bad proxy", map[string]string{"FLAVORMONK_TRUSTED_PROXIES": "10.0.0.0/33"}, "FLAVORMONK_TRUSTED_PROXIES", "CIDR"},
		{"bad size", map[string]string{"FLAVORMONK_MAX_BODY_BYTES": "lots"}, "FLAVORMONK_MAX_BODY_BYTES", "size"},
		{"unreadable secret file", map[string]string{"FLAVORMONK_POSTGRES_URL_FILE": "/nonexistent"}, "FLAVORMONK_POSTGRES_URL_FILE", "cannot read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.env)
			wantFieldErr(t, err, tc.field, tc.contains)
		})
	}
}

func TestSecretFromFile(t *testing.T) {
	files := map[string]string{"/run/secrets/pg": "postgres://u:s3cret@db/fm\n"}
	read := func(p string) ([]byte, error) {
		if v, ok := files[p]; ok {
			return []byte(v), nil
		}
		return nil, os.ErrNotExist
	}
	c, err := config.Parse(env(map[string]string{
		"FLAVORMONK_STORE":             "postgres",
		"FLAVORMONK_POSTGRES_URL_FILE": "/run/secrets/pg",
	}), read)
	if err != nil {
		t.Fatal(err)
	}
	if c.PostgresURL != "postgres://u:s3cret@db/fm" {
		t.Fatalf("PostgresURL = %q", c.PostgresURL)
	}
	for _, line := range c.Redacted() {
		if strings.Contains(line, "s3cret") {
			t.Fatalf("Redacted leaks a secret: %s", line)
		}
	}
	if !contains(c.Redacted(), "FLAVORMONK_POSTGRES_URL=[redacted]") {
		t.Fatal("Redacted does not mark the set secret")
	}
}

func TestOwnNameWinsOverVendorName(t *testing.T) {
	c, err := parse(t, map[string]string{"OPENAI_API_KEY": "vendor", "FLAVORMONK_OPENAI_API_KEY": "own", "OLLAMA_HOST": "gpu-box"})
	if err != nil {
		t.Fatal(err)
	}
	if c.OpenAIAPIKey != "own" {
		t.Fatalf("OpenAIAPIKey = %q, want own", c.OpenAIAPIKey)
	}
	if c.OllamaHost != "http://gpu-box:11434" {
		t.Fatalf("OllamaHost = %q", c.OllamaHost)
	}
}

// The infra program renders configs with Env; the app must read back exactly
// what was rendered, for every tier.
func TestEnvRoundTrip(t *testing.T) {
	for _, tier := range config.Tiers {
		t.Run(string(tier), func(t *testing.T) {
			c, err := config.Default(tier)
			if err != nil {
				t.Fatal(err)
			}
			c.PostgresURL = "postgres://u:p@h/db"
			c.OpenAIAPIKey, c.ReplicateAPIToken = "sk", "r8"
			c.ChromaURL = "http://chroma:8000"
			c.RedisAddrs = []string{"a:6379", "b:6379"}
			c.TrustedProxies = []string{"10.0.0.0/16"}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			m := map[string]string{}
			for _, kv := range c.Env() {
				k, v, _ := strings.Cut(kv, "=")
				m[k] = v
			}
			back, err := parse(t, m)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c, back) || back.Tier != tier {
				t.Fatalf("round trip differs:\n%+v\n%+v", c, back)
			}
		})
	}
}

func TestSchemaIsComplete(t *testing.T) {
	names := map[string]bool{}
	for _, v := range config.Schema() {
		if names[v.Name] {
			t.Fatalf("%s twice in schema", v.Name)
		}
		names[v.Name] = true
		if v.Help == "" {
			t.Errorf("%s has no help", v.Name)
		}
	}
	for _, s := range config.Secrets() {
		if !strings.HasSuffix(s, "_URL") && !strings.Contains(s, "KEY") && !strings.Contains(s, "TOKEN") && !strings.Contains(s, "PASSWORD") && !strings.Contains(s, "SECRET") {
			t.Errorf("unexpected secret %s", s)
		}
	}
	if len(config.Secrets()) < 7 {
		t.Fatalf("secrets = %v", config.Secrets())
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func FuzzParse(f *testing.F) {
	f.Add("FLAVORMONK_TIER", "mvp", "FLAVORMONK_ADDR", ":0")
	f.Add("FLAVORMONK_INFERENCE", "openai,,replicate", "FLAVORMONK_MAX_BODY_BYTES", "10MB")
	f.Add("FLAVORMONK_TRUSTED_PROXIES", "::1,10.0.0.0/8", "FLAVORMONK_CACHE_TTL", "1h")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		c, err := parse(t, map[string]string{k1: v1, k2: v2})
		if err != nil {
			var fe *flavormonk.Error
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error without a named variable: %v", err)
			}
			return
		}
		// Whatever parsed must render and parse back to itself.
		m := map[string]string{}
		for _, kv := range c.Env() {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		back, err := parse(t, m)
		if err != nil {
			t.Fatalf("rendered config does not parse: %v", err)
		}
		if !reflect.DeepEqual(c, back) {
			t.Fatalf("round trip differs")
		}
	})
}

// The README documents every variable (it holds the table `flavormonk
// config -vars` prints); a new variable must be documented there too.
func TestReadmeListsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skip("README not found")
	}
	for _, v := range config.Schema() {
		if !strings.Contains(string(b), "`"+v.Name+"`") {
			t.Errorf("README does not document %s", v.Name)
		}
	}
}

// The drain delay is 0 where nothing routes by /readyz (Ctrl-C on `make
// run` stays instant) and long enough for Kubernetes or a proxy elsewhere.
func TestDrainDelayDefaults(t *testing.T) {
	for tier, want := range map[config.Tier]time.Duration{
		config.TierLocal: 0, config.TierMVP: 0, config.TierUpgrade: 10 * time.Second, config.TierScale: 10 * time.Second,
	} {
		c, err := config.Default(tier)
		if err != nil {
			t.Fatal(err)
		}
		if c.DrainDelay != want {
			t.Errorf("%s: drain delay %s, want %s", tier, c.DrainDelay, want)
		}
	}
	c, err := config.Parse(func(k string) (string, bool) {
		v, ok := map[string]string{"FLAVORMONK_DRAIN_DELAY": "2.5s"}[k]
		return v, ok
	}, nil)
	if err != nil || c.DrainDelay != 2500*time.Millisecond {
		t.Fatalf("FLAVORMONK_DRAIN_DELAY=2.5s: %v, %v", c.DrainDelay, err)
	}
}

// StopTimeout is what a supervisor must allow: drain, grace, settling.
func TestStopTimeout(t *testing.T) {
	c, err := config.Default(config.TierUpgrade)
	if err != nil {
		t.Fatal(err)
	}
	c.DrainDelay, c.ShutdownTimeout = 35*time.Second, 20*time.Second
	if got := c.StopTimeout(); got != 70*time.Second {
		t.Fatalf("StopTimeout %s, want 35s + 20s + %s", got, config.SettleTimeout)
	}
}
