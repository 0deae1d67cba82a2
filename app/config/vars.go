package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Var is one setting of the schema.
type Var struct {
	Name    string
	Aliases []string // vendors' conventional names, read after Name
	Help    string
	Secret  bool
	Allowed []string // for enumerations and lists of them; nil when free-form
	// Default is the default for every tier; PerTier overrides it.
	Default string
	PerTier map[Tier]string

	get func(*Config) string
	set func(*Config, string) error
}

func (v *Var) defaultFor(t Tier) string {
	if d, ok := v.PerTier[t]; ok {
		return d
	}
	return v.Default
}

// Schema returns the schema, for documentation and tests.
func Schema() []Var {
	out := make([]Var, len(schema))
	for i, v := range schema {
		out[i] = *v
	}
	return out
}

// DefaultFor returns a variable's default in a tier.
func (v Var) DefaultFor(t Tier) string { return v.defaultFor(t) }

func str(name, help string, f func(*Config) *string) *Var {
	return &Var{Name: name, Help: help,
		get: func(c *Config) string { return *f(c) },
		set: func(c *Config, s string) error { *f(c) = strings.TrimSpace(s); return nil }}
}

func secret(name, help string, f func(*Config) *string) *Var {
	v := str(name, help, f)
	v.Secret = true
	v.set = func(c *Config, s string) error { *f(c) = s; return nil }
	return v
}

// secretMin is a secret of at least min bytes when set.
func secretMin(name, help string, min int, f func(*Config) *string) *Var {
	v := secret(name, help, f)
	v.set = func(c *Config, s string) error {
		if s != "" && len(s) < min {
			return fmt.Errorf("must be at least %d characters (e.g. the output of `openssl rand -hex 32`)", min)
		}
		*f(c) = s
		return nil
	}
	return v
}

func enum(name, help string, allowed []string, f func(*Config) *string) *Var {
	return &Var{Name: name, Help: help, Allowed: allowed,
		get: func(c *Config) string { return *f(c) },
		set: func(c *Config, s string) error {
			s = strings.ToLower(strings.TrimSpace(s))
			for _, a := range allowed {
				if s == a {
					*f(c) = s
					return nil
				}
			}
			return fmt.Errorf("unknown value %q; allowed: %s", s, strings.Join(allowed, ", "))
		}}
}

func enumList(name, help string, allowed []string, f func(*Config) *[]string) *Var {
	return &Var{Name: name, Help: help, Allowed: allowed,
		get: func(c *Config) string { return strings.Join(*f(c), ",") },
		set: func(c *Config, s string) error {
			var out []string
			for _, p := range strings.Split(s, ",") {
				p = strings.ToLower(strings.TrimSpace(p))
				if p == "" {
					continue
				}
				ok := false
				for _, a := range allowed {
					ok = ok || p == a
				}
				if !ok {
					return fmt.Errorf("unknown value %q; allowed (comma-separated, in order of preference): %s", p, strings.Join(allowed, ", "))
				}
				out = append(out, p)
			}
			if len(out) == 0 {
				return fmt.Errorf("must list at least one of: %s", strings.Join(allowed, ", "))
			}
			*f(c) = out
			return nil
		}}
}

func list(name, help string, check func(string) error, f func(*Config) *[]string) *Var {
	return &Var{Name: name, Help: help,
		get: func(c *Config) string { return strings.Join(*f(c), ",") },
		set: func(c *Config, s string) error {
			var out []string
			for _, p := range strings.Split(s, ",") {
				if p = strings.TrimSpace(p); p == "" {
					continue
				}
				if err := check(p); err != nil {
					return err
				}
				out = append(out, p)
			}
			*f(c) = out
			return nil
		}}
}

func duration(name, help string, min, max time.Duration, f func(*Config) *time.Duration) *Var {
	return &Var{Name: name, Help: help,
		get: func(c *Config) string { return f(c).String() },
		set: func(c *Config, s string) error {
			d, err := time.ParseDuration(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("%q is not a duration; write it like 30s, 5m or 1h30m", s)
			}
			if d < min || d > max {
				return fmt.Errorf("%s is outside %s..%s", d, min, max)
			}
			*f(c) = d
			return nil
		}}
}

func integer(name, help string, min, max int64, f func(*Config) *int) *Var {
	return &Var{Name: name, Help: help,
		get: func(c *Config) string { return strconv.Itoa(*f(c)) },
		set: func(c *Config, s string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil || n < min || n > max {
				return fmt.Errorf("%q must be a whole number in %d..%d", s, min, max)
			}
			*f(c) = int(n)
			return nil
		}}
}

// similarity is 0 (off) or a cosine similarity threshold in [0.8, 1).
func similarity(name, help string, f func(*Config) *float64) *Var {
	return &Var{Name: name, Help: help,
		get: func(c *Config) string { return strconv.FormatFloat(*f(c), 'f', -1, 64) },
		set: func(c *Config, s string) error {
			x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || !(x == 0 || (x >= 0.8 && x < 1)) {
				return fmt.Errorf("%q must be 0 (off) or a similarity from 0.8 up to (not including) 1, e.g. 0.95", s)
			}
			*f(c) = x
			return nil
		}}
}

func bytesize(name, help string, min, max int64, f func(*Config) *int64) *Var {
	return &Var{Name: name, Help: help,
		get: func(c *Config) string { return strconv.FormatInt(*f(c), 10) },
		set: func(c *Config, s string) error {
			n, err := parseBytes(s)
			if err != nil || n < min || n > max {
				return fmt.Errorf("%q must be a size in bytes (suffixes KB, MB allowed) in %d..%d", s, min, max)
			}
			*f(c) = n
			return nil
		}}
}

func parseBytes(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"K", 1 << 10}, {"M", 1 << 20}, {"B", 1}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suf)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("bad size")
	}
	return n * mult, nil
}

func boolean(name, help string, f func(*Config) *bool) *Var {
	return &Var{Name: name, Help: help, Allowed: []string{"true", "false"},
		get: func(c *Config) string { return strconv.FormatBool(*f(c)) },
		set: func(c *Config, s string) error {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "true", "1", "yes", "on":
				*f(c) = true
			case "false", "0", "no", "off":
				*f(c) = false
			default:
				return fmt.Errorf("%q is not a boolean; allowed: true, false", s)
			}
			return nil
		}}
}

func checkHostPort(s string) error {
	if _, _, err := net.SplitHostPort(s); err != nil {
		return fmt.Errorf("%q is not host:port (e.g. :8080 or 127.0.0.1:9090)", s)
	}
	return nil
}

func addr(name, help string, f func(*Config) *string) *Var {
	v := str(name, help, f)
	v.set = func(c *Config, s string) error {
		s = strings.TrimSpace(s)
		if err := checkHostPort(s); err != nil {
			return err
		}
		*f(c) = s
		return nil
	}
	return v
}

func httpURL(name, help string, f func(*Config) *string) *Var {
	v := str(name, help, f)
	v.set = func(c *Config, s string) error {
		s = strings.TrimSpace(s)
		if s == "" {
			*f(c) = ""
			return nil
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%q is not an http(s) URL like https://host:port", s)
		}
		*f(c) = strings.TrimRight(s, "/")
		return nil
	}
	return v
}

func with(v *Var, def string, perTier map[Tier]string) *Var {
	v.Default, v.PerTier = def, perTier
	return v
}

func alias(v *Var, names ...string) *Var {
	v.Aliases = names
	return v
}

// schema is the complete configuration, every tier's. Order is the
// documentation order.
var schema = []*Var{
	with(enum("FLAVORMONK_TIER", "tier preset whose defaults apply to every setting not given", tierNames(),
		func(c *Config) *string { return (*string)(&c.Tier) }), "local", nil),

	with(addr("FLAVORMONK_ADDR", "public listen address (host:port)", func(c *Config) *string { return &c.Addr }), ":8080", nil),
	with(addr("FLAVORMONK_METRICS_ADDR", "private listen address for /metrics; never expose it publicly", func(c *Config) *string { return &c.MetricsAddr }), "127.0.0.1:9090", nil),
	with(httpURL("FLAVORMONK_BASE_URL", "public URL of the site, used in links and citations", func(c *Config) *string { return &c.BaseURL }), "", nil),
	with(list("FLAVORMONK_TRUSTED_PROXIES", "CIDRs of proxies/load balancers whose X-Forwarded-For is believed (comma-separated)", func(s string) error {
		if _, err := netip.ParsePrefix(s); err != nil {
			if _, err2 := netip.ParseAddr(s); err2 != nil {
				return fmt.Errorf("%q is not a CIDR like 10.0.0.0/16 or an IP address", s)
			}
		}
		return nil
	}, func(c *Config) *[]string { return &c.TrustedProxies }), "", nil),
	with(boolean("FLAVORMONK_SECURE_COOKIES", "mark cookies Secure (HTTPS only)", func(c *Config) *bool { return &c.SecureCookies }), "true", map[Tier]string{TierLocal: "false"}),
	with(duration("FLAVORMONK_READ_HEADER_TIMEOUT", "time allowed to read request headers", time.Second, 5*time.Minute, func(c *Config) *time.Duration { return &c.ReadHeaderTimeout }), "10s", nil),
	with(duration("FLAVORMONK_REQUEST_TIMEOUT", "time limit of an ordinary request (event streams have their own)", time.Second, 10*time.Minute, func(c *Config) *time.Duration { return &c.RequestTimeout }), "30s", nil),
	with(duration("FLAVORMONK_IDLE_TIMEOUT", "keep-alive idle timeout", time.Second, time.Hour, func(c *Config) *time.Duration { return &c.IdleTimeout }), "120s", nil),
	// Behind a load balancer the delay is what lets it see /readyz fail
	// before the listener closes; the infra renders the exact value from
	// its health check. 10s covers Kubernetes endpoint removal and a proxy
	// probing every few seconds; local and mvp (no balancer to tell) stop at once.
	with(duration("FLAVORMONK_DRAIN_DELAY", "on SIGTERM, how long /readyz answers 503 while requests are still served, before the listener closes (0: close at once; a second signal cuts it short)", 0, 10*time.Minute, func(c *Config) *time.Duration { return &c.DrainDelay }), "10s", map[Tier]string{TierLocal: "0s", TierMVP: "0s"}),
	with(duration("FLAVORMONK_SHUTDOWN_TIMEOUT", "grace period for in-flight requests on shutdown", 0, 10*time.Minute, func(c *Config) *time.Duration { return &c.ShutdownTimeout }), "20s", nil),
	with(bytesize("FLAVORMONK_MAX_BODY_BYTES", "largest request body accepted", 1024, 1<<30, func(c *Config) *int64 { return &c.MaxBodyBytes }), "1048576", nil),
	with(integer("FLAVORMONK_MAX_QUERY_BYTES", "longest query string accepted", 256, 1<<20, func(c *Config) *int { return &c.MaxQueryBytes }), "4096", nil),
	with(integer("FLAVORMONK_RATE_LIMIT", "requests per minute per client IP (0 turns the limit off)", 0, 1_000_000, func(c *Config) *int { return &c.RateLimit }), "600", map[Tier]string{TierLocal: "0"}),

	with(enum("FLAVORMONK_LOG_LEVEL", "log level", []string{"debug", "info", "warn", "error"}, func(c *Config) *string { return &c.LogLevel }), "info", nil),
	with(enum("FLAVORMONK_LOG_FORMAT", "log format", []string{"text", "json"}, func(c *Config) *string { return &c.LogFormat }), "json", map[Tier]string{TierLocal: "text"}),

	with(enum("FLAVORMONK_STORE", "recipe store", []string{StoreSQLite, StorePostgres}, func(c *Config) *string { return &c.StoreDriver }), StorePostgres, map[Tier]string{TierLocal: StoreSQLite}),
	with(str("FLAVORMONK_SQLITE_PATH", "SQLite database file (created if missing)", func(c *Config) *string { return &c.SQLitePath }), "flavormonk.db", nil),
	with(secret("FLAVORMONK_POSTGRES_URL", "Postgres connection URL (postgres://user:pass@host:5432/db?sslmode=require)", func(c *Config) *string { return &c.PostgresURL }), "", nil),
	with(integer("FLAVORMONK_POSTGRES_MAX_CONNS", "Postgres pool size per instance", 1, 1000, func(c *Config) *int { return &c.PostgresMaxConns }), "10", nil),
	with(boolean("FLAVORMONK_MIGRATE_ON_START", "apply database migrations when serve starts; false where a job runs `flavormonk migrate` first (needed behind a transaction-mode pool)", func(c *Config) *bool { return &c.MigrateOnStart }), "true", map[Tier]string{TierScale: "false"}),
	with(boolean("FLAVORMONK_SEED", "load the bundled recipes into an empty store at start", func(c *Config) *bool { return &c.SeedRecipes }), "true", nil),

	with(enum("FLAVORMONK_SEARCH", "search mode: lexical (in-process index) or hybrid (lexical + vectors)", []string{SearchLexical, SearchHybrid}, func(c *Config) *string { return &c.SearchMode }), SearchLexical, map[Tier]string{TierUpgrade: SearchHybrid, TierScale: SearchHybrid}),
	with(duration("FLAVORMONK_INDEX_POLL", "how often each instance polls the store for recipe changes", 100*time.Millisecond, time.Hour, func(c *Config) *time.Duration { return &c.IndexPoll }), "2s", nil),
	with(integer("FLAVORMONK_SEARCH_MAX_RESULTS", "largest page size a search may ask for", 1, 1000, func(c *Config) *int { return &c.SearchMaxResults }), "100", nil),

	with(enum("FLAVORMONK_VECTOR", "vector index", []string{VectorNone, VectorEmbedded, VectorChroma}, func(c *Config) *string { return &c.VectorBackend }), VectorNone, map[Tier]string{TierUpgrade: VectorChroma, TierScale: VectorChroma}),
	with(str("FLAVORMONK_VECTOR_PATH", "file of the embedded vector index", func(c *Config) *string { return &c.VectorPath }), "flavormonk.vectors", nil),
	with(httpURL("FLAVORMONK_CHROMA_URL", "ChromaDB server URL (private network)", func(c *Config) *string { return &c.ChromaURL }), "", nil),
	with(str("FLAVORMONK_CHROMA_TENANT", "ChromaDB tenant", func(c *Config) *string { return &c.ChromaTenant }), "default_tenant", nil),
	with(str("FLAVORMONK_CHROMA_DATABASE", "ChromaDB database", func(c *Config) *string { return &c.ChromaDatabase }), "default_database", nil),
	with(str("FLAVORMONK_CHROMA_COLLECTION", "ChromaDB collection", func(c *Config) *string { return &c.ChromaCollection }), "recipes", nil),
	with(secret("FLAVORMONK_CHROMA_TOKEN", "ChromaDB token, when a proxy in front of it asks for one", func(c *Config) *string { return &c.ChromaToken }), "", nil),

	with(enum("FLAVORMONK_EMBED_PROVIDER", "embeddings: local (built-in, offline), openai, ollama", []string{EmbedLocal, EmbedOpenAI, EmbedOllama}, func(c *Config) *string { return &c.EmbedProvider }), EmbedLocal, nil),
	with(str("FLAVORMONK_EMBED_MODEL", "embedding model name", func(c *Config) *string { return &c.EmbedModel }), "", nil),
	with(httpURL("FLAVORMONK_EMBED_BASE_URL", "embeddings API base URL (OpenAI-compatible)", func(c *Config) *string { return &c.EmbedBaseURL }), "", nil),
	with(secret("FLAVORMONK_EMBED_API_KEY", "embeddings API key (defaults to OPENAI_API_KEY)", func(c *Config) *string { return &c.EmbedAPIKey }), "", nil),
	with(integer("FLAVORMONK_EMBED_DIMENSIONS", "embedding dimension (0: the model's own)", 0, 8192, func(c *Config) *int { return &c.EmbedDimensions }), "0", nil),

	with(enum("FLAVORMONK_CACHE", "result cache: memory (in-process), redis (shared by replicas) or none", []string{CacheMemory, CacheRedis, CacheNone}, func(c *Config) *string { return &c.CacheBackend }), CacheMemory, map[Tier]string{TierUpgrade: CacheRedis, TierScale: CacheRedis}),
	with(duration("FLAVORMONK_CACHE_TTL", "lifetime of cached results", time.Second, 7*24*time.Hour, func(c *Config) *time.Duration { return &c.CacheTTL }), "10m", nil),
	with(integer("FLAVORMONK_CACHE_MAX_ENTRIES", "entries kept by the in-memory cache", 0, 10_000_000, func(c *Config) *int { return &c.CacheMaxEntries }), "10000", nil),
	with(enum("FLAVORMONK_REDIS_MODE", "Redis topology", []string{RedisSingle, RedisCluster, RedisSentinel}, func(c *Config) *string { return &c.RedisMode }), RedisSingle, nil),
	with(list("FLAVORMONK_REDIS_ADDRS", "Redis (or Sentinel) host:port list, comma-separated", checkHostPort, func(c *Config) *[]string { return &c.RedisAddrs }), "", nil),
	with(str("FLAVORMONK_REDIS_USERNAME", "Redis ACL user name", func(c *Config) *string { return &c.RedisUsername }), "", nil),
	with(secret("FLAVORMONK_REDIS_PASSWORD", "Redis password", func(c *Config) *string { return &c.RedisPassword }), "", nil),
	with(integer("FLAVORMONK_REDIS_DB", "Redis database number (single and sentinel modes)", 0, 15, func(c *Config) *int { return &c.RedisDB }), "0", nil),
	with(boolean("FLAVORMONK_REDIS_TLS", "connect to Redis over TLS (DigitalOcean Valkey needs it)", func(c *Config) *bool { return &c.RedisTLS }), "false", nil),
	with(str("FLAVORMONK_REDIS_SENTINEL_MASTER", "Sentinel master name", func(c *Config) *string { return &c.RedisSentinelMaster }), "", nil),

	with(enumList("FLAVORMONK_INFERENCE", "assistant providers in order of fallback, comma-separated",
		[]string{ProviderOffline, ProviderOpenAI, ProviderCompatible, ProviderOllama, ProviderReplicate},
		func(c *Config) *[]string { return &c.InferenceChain }), ProviderOffline,
		map[Tier]string{TierMVP: ProviderOpenAI, TierUpgrade: ProviderReplicate + "," + ProviderOpenAI, TierScale: ProviderReplicate + "," + ProviderOpenAI}),
	with(duration("FLAVORMONK_INFERENCE_TIMEOUT", "deadline of one assistant answer, all providers together", time.Second, 10*time.Minute, func(c *Config) *time.Duration { return &c.InferenceTimeout }), "90s", nil),
	with(integer("FLAVORMONK_INFERENCE_RETRIES", "retries per provider on 429/5xx/timeouts", 0, 10, func(c *Config) *int { return &c.InferenceRetries }), "2", nil),
	with(integer("FLAVORMONK_INFERENCE_CONCURRENCY", "calls in flight per provider; a full provider is skipped for the next one", 1, 10000, func(c *Config) *int { return &c.InferenceConcurrency }), "32", nil),
	with(duration("FLAVORMONK_INFERENCE_COOLDOWN", "how long a provider is skipped after 3 failures in a row", time.Second, time.Hour, func(c *Config) *time.Duration { return &c.InferenceCooldown }), "30s", nil),
	with(duration("FLAVORMONK_INFERENCE_STALL_TIMEOUT", "a provider call that sends no text this long (first token or between tokens) fails over to the next", time.Second, 10*time.Minute, func(c *Config) *time.Duration { return &c.InferenceStall }), "30s", nil),
	with(integer("FLAVORMONK_ASK_MAX_TOKENS", "output token cap of one assistant answer", 64, 8192, func(c *Config) *int { return &c.AskMaxTokens }), "700", nil),
	with(integer("FLAVORMONK_ASK_HISTORY_TURNS", "question/answer pairs a conversation remembers", 1, 50, func(c *Config) *int { return &c.AskHistoryTurns }), "6", nil),
	with(duration("FLAVORMONK_ANSWER_CACHE_TTL", "how long exact-match answers are cached (0s: no answer cache)", 0, 30*24*time.Hour, func(c *Config) *time.Duration { return &c.AnswerCacheTTL }), "24h", nil),
	with(similarity("FLAVORMONK_SEMANTIC_CACHE", "semantic answer cache: 0 (off) or the question similarity that reuses an answer about the same recipes, e.g. 0.95", func(c *Config) *float64 { return &c.SemanticCache }), "0", nil),
	alias(with(secret("FLAVORMONK_OPENAI_API_KEY", "OpenAI API key", func(c *Config) *string { return &c.OpenAIAPIKey }), "", nil), "OPENAI_API_KEY"),
	alias(with(httpURL("FLAVORMONK_OPENAI_BASE_URL", "OpenAI API base URL", func(c *Config) *string { return &c.OpenAIBaseURL }), "https://api.openai.com/v1", nil), "OPENAI_BASE_URL"),
	with(str("FLAVORMONK_OPENAI_MODEL", "OpenAI chat model", func(c *Config) *string { return &c.OpenAIModel }), "gpt-4o-mini", nil),
	with(httpURL("FLAVORMONK_COMPATIBLE_BASE_URL", "base URL of an OpenAI-compatible endpoint (vLLM, LM Studio, ...)", func(c *Config) *string { return &c.CompatibleBaseURL }), "", nil),
	with(secret("FLAVORMONK_COMPATIBLE_API_KEY", "API key of the OpenAI-compatible endpoint", func(c *Config) *string { return &c.CompatibleAPIKey }), "", nil),
	with(str("FLAVORMONK_COMPATIBLE_MODEL", "model name at the OpenAI-compatible endpoint", func(c *Config) *string { return &c.CompatibleModel }), "", nil),
	alias(with(ollamaHost("FLAVORMONK_OLLAMA_HOST", "Ollama server URL or host:port", func(c *Config) *string { return &c.OllamaHost }), "", nil), "OLLAMA_HOST"),
	with(str("FLAVORMONK_OLLAMA_MODEL", "Ollama model", func(c *Config) *string { return &c.OllamaModel }), "llama3.1:8b", nil),
	alias(with(secret("FLAVORMONK_REPLICATE_API_TOKEN", "Replicate API token", func(c *Config) *string { return &c.ReplicateAPIToken }), "", nil), "REPLICATE_API_TOKEN"),
	with(str("FLAVORMONK_REPLICATE_MODEL", "Replicate model (owner/name)", func(c *Config) *string { return &c.ReplicateModel }), "meta/meta-llama-3-70b-instruct", nil),
	with(httpURL("FLAVORMONK_REPLICATE_BASE_URL", "Replicate API base URL", func(c *Config) *string { return &c.ReplicateBaseURL }), "https://api.replicate.com/v1", nil),

	with(prices("FLAVORMONK_PRICES", "model prices added to or replacing the built-in list prices: PROVIDER/MODEL=in:USD,out:USD (per 1M tokens), sec:USD (per second) or free; entries ';'-separated, MODEL * for all of a provider's", func(c *Config) *string { return &c.Prices }), "", nil),
	with(usd("FLAVORMONK_BUDGET_USD", "global assistant spending budget per UTC month in USD (0: no budget)", true, func(c *Config) *int64 { return &c.BudgetMicros }), "100", map[Tier]string{TierLocal: "5"}),
	with(usd("FLAVORMONK_QUOTA_ANON_USD", "assistant allowance per visitor session per UTC month in USD (0: none beyond free answers; unlimited)", false, func(c *Config) *int64 { return &c.QuotaAnonMicros }), "0.05", nil),
	with(usd("FLAVORMONK_QUOTA_FREE_USD", "assistant allowance per free-plan user per UTC month in USD (0: none beyond free answers; unlimited)", false, func(c *Config) *int64 { return &c.QuotaFreeMicros }), "0.25", nil),
	with(usd("FLAVORMONK_QUOTA_CHEF_USD", "assistant allowance per chef-plan user per UTC month in USD (0: none beyond free answers; unlimited)", false, func(c *Config) *int64 { return &c.QuotaChefMicros }), "5", nil),

	with(boolean("FLAVORMONK_INVITE_ONLY", "sign-up needs an invite code (closed beta)", func(c *Config) *bool { return &c.InviteOnly }), "false", nil),
	with(str("FLAVORMONK_GUMROAD_PRODUCT_ID", "Gumroad product whose licence keys unlock the assistant (empty: licences off)", func(c *Config) *string { return &c.GumroadProductID }), "", nil),
	with(httpURL("FLAVORMONK_GUMROAD_URL", "Gumroad API base URL", func(c *Config) *string { return &c.GumroadURL }), "https://api.gumroad.com", nil),
	with(enum("FLAVORMONK_GUMROAD_PLAN", "plan a valid licence grants", []string{"chef"}, func(c *Config) *string { return &c.GumroadPlan }), "chef", nil),
	with(secretMin("FLAVORMONK_LICENSE_SECRET", "secret (32+ characters) that encrypts stored licence keys so they can be re-checked (empty: no re-checks)", 32, func(c *Config) *string { return &c.LicenseSecret }), "", nil),
	with(duration("FLAVORMONK_LICENSE_RECHECK", "how often each licence is verified again with Gumroad (0: never)", 0, 90*24*time.Hour, func(c *Config) *time.Duration { return &c.LicenseRecheck }), "24h", nil),
	with(bytesize("FLAVORMONK_IMPORT_MAX_BYTES", "largest file or page an import reads", 1024, 1<<30, func(c *Config) *int64 { return &c.ImportMaxBytes }), "5242880", nil),
	with(duration("FLAVORMONK_IMPORT_TIMEOUT", "time limit of one URL import", time.Second, 10*time.Minute, func(c *Config) *time.Duration { return &c.ImportTimeout }), "20s", nil),
}

// ollamaHost accepts what Ollama's own OLLAMA_HOST accepts: a URL, or a bare
// host[:port] (http and port 11434 implied).
func ollamaHost(name, help string, f func(*Config) *string) *Var {
	v := httpURL(name, help, f)
	inner := v.set
	v.set = func(c *Config, s string) error {
		s = strings.TrimSpace(s)
		if s != "" && !strings.Contains(s, "://") {
			if _, _, err := net.SplitHostPort(s); err != nil {
				s += ":11434"
			}
			s = "http://" + s
		}
		return inner(c, s)
	}
	return v
}
