// Package config is the tier contract between the infra program and the app:
// the complete configuration schema for every tier, parsed from environment
// variables, validated, and rendered back to environment variables. The
// infra program imports it to render what each phase's machines receive, so
// a phase can never ask the app for a combination it does not understand.
//
// Every setting is one entry in the schema table (vars.go): its variable
// name, the values it allows, its default per tier, and whether it is a
// secret. Secrets may also be read from NAME_FILE.
package config

import (
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Tier is a preset of defaults matching an infra phase.
type Tier string

// The tiers. Local is the embedded default: SQLite, in-process index and
// cache, no model.
const (
	TierLocal   Tier = "local"
	TierMVP     Tier = "mvp"
	TierUpgrade Tier = "upgrade"
	TierScale   Tier = "scale"
)

// Tiers lists the tiers in phase order.
var Tiers = []Tier{TierLocal, TierMVP, TierUpgrade, TierScale}

// Backend names, as the variables accept them.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"

	SearchLexical = "lexical"
	SearchHybrid  = "hybrid"

	VectorNone     = "none"
	VectorEmbedded = "embedded"
	VectorChroma   = "chroma"

	EmbedLocal  = "local"
	EmbedOpenAI = "openai"
	EmbedOllama = "ollama"

	CacheNone   = "none"
	CacheMemory = "memory"
	CacheRedis  = "redis"

	RedisSingle   = "single"
	RedisCluster  = "cluster"
	RedisSentinel = "sentinel"

	ProviderOffline    = "offline"
	ProviderOpenAI     = "openai"
	ProviderCompatible = "openai-compatible"
	ProviderOllama     = "ollama"
	ProviderReplicate  = "replicate"
)

// Config is the app's whole configuration. It is a value: main parses it
// once and passes it down; nothing reads the environment after that.
type Config struct {
	Tier Tier

	// HTTP
	Addr              string
	MetricsAddr       string
	BaseURL           string
	TrustedProxies    []string // CIDRs or addresses; see TrustedPrefixes
	SecureCookies     bool
	ReadHeaderTimeout time.Duration
	RequestTimeout    time.Duration // for ordinary routes; streams set their own
	IdleTimeout       time.Duration
	DrainDelay        time.Duration // /readyz 503 while still serving, before the listener closes
	ShutdownTimeout   time.Duration
	MaxBodyBytes      int64
	MaxQueryBytes     int
	RateLimit         int // requests per minute per client IP, 0 = off

	// Logging
	LogLevel  string
	LogFormat string

	// Store
	StoreDriver      string
	SQLitePath       string
	PostgresURL      string // secret
	PostgresMaxConns int
	SeedRecipes      bool

	// Search
	SearchMode       string
	IndexPoll        time.Duration
	SearchMaxResults int

	// Vector index
	VectorBackend    string
	VectorPath       string
	ChromaURL        string
	ChromaTenant     string
	ChromaDatabase   string
	ChromaCollection string
	ChromaToken      string // secret

	// Embeddings
	EmbedProvider   string
	EmbedModel      string
	EmbedBaseURL    string
	EmbedAPIKey     string // secret
	EmbedDimensions int

	// Cache
	CacheBackend        string
	CacheTTL            time.Duration
	CacheMaxEntries     int
	RedisMode           string
	RedisAddrs          []string
	RedisUsername       string
	RedisPassword       string // secret
	RedisDB             int
	RedisTLS            bool
	RedisSentinelMaster string

	// Inference
	InferenceChain       []string
	InferenceTimeout     time.Duration
	InferenceRetries     int
	InferenceConcurrency int
	InferenceCooldown    time.Duration
	InferenceStall       time.Duration
	AskMaxTokens         int
	AskHistoryTurns      int
	AnswerCacheTTL       time.Duration
	MigrateOnStart       bool
	SemanticCache        float64
	OpenAIAPIKey         string // secret
	OpenAIBaseURL        string
	OpenAIModel          string
	CompatibleBaseURL    string
	CompatibleAPIKey     string // secret
	CompatibleModel      string
	OllamaHost           string
	OllamaModel          string
	ReplicateAPIToken    string // secret
	ReplicateModel       string
	ReplicateBaseURL     string

	// Usage and money: micro-USD per UTC month, flavormonk.NoLimit for none
	Prices          string // FLAVORMONK_PRICES as written; usage/pricing.New reads it
	BudgetMicros    int64
	QuotaAnonMicros int64
	QuotaFreeMicros int64
	QuotaChefMicros int64

	// Accounts
	InviteOnly       bool
	GumroadProductID string
	GumroadURL       string
	GumroadPlan      string
	LicenseSecret    string // secret
	LicenseRecheck   time.Duration

	// Import
	ImportMaxBytes int64
	ImportTimeout  time.Duration
}

// Default returns the defaults of a tier. It fails only for an unknown tier.
func Default(t Tier) (*Config, error) {
	if !validTier(t) {
		return nil, unknownValue("FLAVORMONK_TIER", string(t), tierNames())
	}
	c := &Config{Tier: t}
	for _, v := range schema {
		if v.Name == "FLAVORMONK_TIER" {
			continue // the tier is the argument, not a default
		}
		if err := v.set(c, v.defaultFor(t)); err != nil {
			return nil, fmt.Errorf("config: default of %s for tier %s: %w", v.Name, t, err)
		}
	}
	return c, nil
}

// Getenv is os.Getenv's shape; tests pass a map's lookup instead.
type Getenv func(string) (string, bool)

// FromEnv parses the configuration from the process environment.
func FromEnv() (*Config, error) { return Parse(os.LookupEnv, os.ReadFile) }

// Parse builds a Config from environment lookups: the tier's defaults, then
// every variable that is set. readFile reads NAME_FILE secrets. All errors
// are *flavormonk.Error with EINVALID and the variable's name in Field.
func Parse(getenv Getenv, readFile func(string) ([]byte, error)) (*Config, error) {
	tier := TierLocal
	if s, ok := getenv("FLAVORMONK_TIER"); ok && strings.TrimSpace(s) != "" {
		tier = Tier(strings.ToLower(strings.TrimSpace(s)))
	}
	c, err := Default(tier)
	if err != nil {
		return nil, err
	}
	chainSet := false
	for _, v := range schema {
		if v.Name == "FLAVORMONK_TIER" {
			continue
		}
		val, name, ok, err := lookup(v, getenv, readFile)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if v.Name == "FLAVORMONK_INFERENCE" {
			chainSet = true
		}
		if err := v.set(c, val); err != nil {
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, name, "%v", err)
		}
	}
	// The embedded default with only OPENAI_API_KEY (and OPENAI_BASE_URL)
	// set uses that provider.
	if tier == TierLocal && !chainSet && c.OpenAIAPIKey != "" {
		c.InferenceChain = []string{ProviderOpenAI}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// lookup finds a variable's value: its own name, then NAME_FILE for
// secrets, then the vendors' conventional names.
func lookup(v *Var, getenv Getenv, readFile func(string) ([]byte, error)) (val, name string, ok bool, err error) {
	names := append([]string{v.Name}, v.Aliases...)
	for _, n := range names {
		if s, found := getenv(n); found && s != "" {
			return s, n, true, nil
		}
		if v.Secret {
			if p, found := getenv(n + "_FILE"); found && p != "" {
				b, err := readFile(p)
				if err != nil {
					return "", n + "_FILE", false, flavormonk.FieldErrorf(flavormonk.EINVALID, n+"_FILE",
						"cannot read the secret file: %v", err)
				}
				return strings.TrimRight(string(b), "\r\n"), n + "_FILE", true, nil
			}
		}
	}
	return "", "", false, nil
}

// Validate checks the rules that span several settings. Each error names the
// variable to fix.
func (c *Config) Validate() error {
	req := func(name, val, why string) error {
		if strings.TrimSpace(val) == "" {
			return flavormonk.FieldErrorf(flavormonk.EINVALID, name, "must be set %s", why)
		}
		return nil
	}
	checks := []error{}
	add := func(err error) {
		if err != nil {
			checks = append(checks, err)
		}
	}
	// Each value passes its own variable's rules, also when a program (the
	// infra) filled the fields in directly rather than from the environment.
	scratch := *c
	for _, v := range schema {
		if err := v.set(&scratch, v.get(c)); err != nil {
			add(flavormonk.FieldErrorf(flavormonk.EINVALID, v.Name, "%v", err))
		}
	}
	switch c.StoreDriver {
	case StoreSQLite:
		add(req("FLAVORMONK_SQLITE_PATH", c.SQLitePath, "when FLAVORMONK_STORE=sqlite"))
	case StorePostgres:
		add(req("FLAVORMONK_POSTGRES_URL", c.PostgresURL, "when FLAVORMONK_STORE=postgres (or use FLAVORMONK_POSTGRES_URL_FILE)"))
	}
	if c.SearchMode == SearchHybrid && c.VectorBackend == VectorNone {
		add(flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_VECTOR",
			"must be embedded or chroma when FLAVORMONK_SEARCH=hybrid (hybrid search needs a vector index)"))
	}
	if c.VectorBackend == VectorChroma {
		add(req("FLAVORMONK_CHROMA_URL", c.ChromaURL, "when FLAVORMONK_VECTOR=chroma"))
	}
	if c.VectorBackend == VectorEmbedded {
		add(req("FLAVORMONK_VECTOR_PATH", c.VectorPath, "when FLAVORMONK_VECTOR=embedded"))
	}
	if c.VectorBackend != VectorNone {
		switch c.EmbedProvider {
		case EmbedOpenAI:
			if c.EmbedAPIKey == "" && c.OpenAIAPIKey == "" {
				add(flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_EMBED_API_KEY",
					"must be set (or OPENAI_API_KEY) when FLAVORMONK_EMBED_PROVIDER=openai"))
			}
		case EmbedOllama:
			add(req("OLLAMA_HOST", c.OllamaHost, "when FLAVORMONK_EMBED_PROVIDER=ollama"))
		}
	}
	if c.CacheBackend == CacheRedis {
		if len(c.RedisAddrs) == 0 {
			add(flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_REDIS_ADDRS", "must list at least one host:port when FLAVORMONK_CACHE=redis"))
		}
		if c.RedisMode == RedisSentinel {
			add(req("FLAVORMONK_REDIS_SENTINEL_MASTER", c.RedisSentinelMaster, "when FLAVORMONK_REDIS_MODE=sentinel"))
		}
	}
	seen := map[string]bool{}
	for _, p := range c.InferenceChain {
		if seen[p] {
			add(flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_INFERENCE", "lists %q twice", p))
		}
		seen[p] = true
		switch p {
		case ProviderOpenAI:
			add(req("OPENAI_API_KEY", c.OpenAIAPIKey, "when FLAVORMONK_INFERENCE includes openai (or FLAVORMONK_OPENAI_API_KEY / _FILE)"))
		case ProviderCompatible:
			add(req("FLAVORMONK_COMPATIBLE_BASE_URL", c.CompatibleBaseURL, "when FLAVORMONK_INFERENCE includes openai-compatible"))
			add(req("FLAVORMONK_COMPATIBLE_MODEL", c.CompatibleModel, "when FLAVORMONK_INFERENCE includes openai-compatible"))
		case ProviderOllama:
			add(req("OLLAMA_HOST", c.OllamaHost, "when FLAVORMONK_INFERENCE includes ollama"))
		case ProviderReplicate:
			add(req("REPLICATE_API_TOKEN", c.ReplicateAPIToken, "when FLAVORMONK_INFERENCE includes replicate (or FLAVORMONK_REPLICATE_API_TOKEN / _FILE)"))
		}
	}
	if c.Addr == c.MetricsAddr && !strings.HasSuffix(c.Addr, ":0") {
		add(flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_METRICS_ADDR",
			"must differ from FLAVORMONK_ADDR: metrics are served on a private listener"))
	}
	if len(checks) > 0 {
		return checks[0]
	}
	return nil
}

// SettleTimeout bounds how long shutdown waits, after the grace period,
// for the answer streams it ended to send their error event and settle.
const SettleTimeout = 15 * time.Second

// StopTimeout is the longest a serving process takes to exit after
// SIGTERM: the drain delay, the grace period and the settling of cut
// streams. Whatever kills the process after a fixed time (Kubernetes'
// terminationGracePeriodSeconds, `docker stop -t`) must allow at least this.
func (c *Config) StopTimeout() time.Duration {
	return c.DrainDelay + c.ShutdownTimeout + SettleTimeout
}

// Env renders the configuration as environment variables, one NAME=value
// per entry, sorted, secrets included: the infra program writes this into
// the app's 0600 environment file. Every variable is rendered, so the file
// does not depend on the defaults of the binary that reads it.
func (c *Config) Env() []string {
	out := make([]string, 0, len(schema))
	for _, v := range schema {
		out = append(out, v.Name+"="+v.get(c))
	}
	sort.Strings(out)
	return out
}

// EnvMap is Env as a map.
func (c *Config) EnvMap() map[string]string {
	m := make(map[string]string, len(schema))
	for _, v := range schema {
		m[v.Name] = v.get(c)
	}
	return m
}

// Redacted renders the configuration like Env, with secret values replaced
// by "[redacted]" (or "" when unset). Safe to print and log.
func (c *Config) Redacted() []string {
	out := make([]string, 0, len(schema))
	for _, v := range schema {
		val := v.get(c)
		if v.Secret && val != "" {
			val = "[redacted]"
		}
		out = append(out, v.Name+"="+val)
	}
	sort.Strings(out)
	return out
}

// Secrets returns the names of the variables that hold secrets.
func Secrets() []string {
	var out []string
	for _, v := range schema {
		if v.Secret {
			out = append(out, v.Name)
		}
	}
	return out
}

func validTier(t Tier) bool {
	for _, x := range Tiers {
		if x == t {
			return true
		}
	}
	return false
}

func tierNames() []string {
	out := make([]string, len(Tiers))
	for i, t := range Tiers {
		out[i] = string(t)
	}
	return out
}

func unknownValue(name, val string, allowed []string) error {
	return flavormonk.FieldErrorf(flavormonk.EINVALID, name, "unknown value %q; allowed: %s", val, strings.Join(allowed, ", "))
}

// NotImplemented is the start-up error for a backend that is configured but
// not built yet.
func NotImplemented(name, value string) error {
	return flavormonk.FieldErrorf(flavormonk.ENOTIMPLEMENTED, name, "%s is not implemented yet in this version; choose another value", value)
}

// TrustedPrefixes returns TrustedProxies as prefixes; a bare address is a
// single-address prefix. Values were checked when parsed.
func (c *Config) TrustedPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}
