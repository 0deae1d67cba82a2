package plan

import (
	appconfig "github.com/flavormonk/flavormonk/app/config"
)

// AppInputs are the values only known once resources exist (addresses,
// generated passwords) plus the app's secrets from stack config.
type AppInputs struct {
	PostgresURL    string
	RedisAddrs     []string
	RedisPassword  string
	RedisTLS       bool
	ChromaURL      string
	OpenAIKey      string
	ReplicateToken string
	LicenseSecret  string
	// RedisSentinelMaster, when set, makes RedisAddrs the Sentinels of
	// that master (Hetzner scale: primary + replica watched by Sentinel).
	RedisSentinelMaster string
	// PostgresMaxConns is each instance's pool size; 0 keeps the default.
	// In scale many pods share a DigitalOcean connection pool.
	PostgresMaxConns int
	// TrustedProxies are the load balancer's or Caddy's addresses.
	TrustedProxies []string
}

// AppConfig renders the app's configuration for this plan's phase through
// the app's own config package: the tier preset of the phase, with the
// stack's resources filled in, validated by the same rules the app applies
// at start-up. A phase can therefore never hand the app a combination it
// rejects: the preview fails first.
func (p *Plan) AppConfig(in AppInputs) (*appconfig.Config, error) {
	c, err := appconfig.Default(appconfig.Tier(p.Phase))
	if err != nil {
		return nil, err
	}
	// Every address; the hosts' nftables and the cloud firewalls admit 8080
	// from the private network only (Caddy on the VM proxies to loopback).
	c.Addr = ":8080"
	c.MetricsAddr = "127.0.0.1:9090"
	if p.Phase == Scale {
		// A pod's loopback is its own: /metrics listens on the pod address
		// for in-cluster scrapers. No Service exposes it outside the
		// cluster and a NetworkPolicy admits in-cluster sources only.
		c.MetricsAddr = ":9090"
	}
	if p.Domain != "" {
		c.BaseURL = "https://" + p.Domain
	}
	c.SecureCookies = p.Domain != ""
	c.DrainDelay = p.DrainDelay()
	c.StoreDriver = appconfig.StorePostgres
	c.PostgresURL = in.PostgresURL
	c.TrustedProxies = in.TrustedProxies
	if p.Has(RoleRedis) {
		c.CacheBackend = appconfig.CacheRedis
		c.RedisAddrs = in.RedisAddrs
		c.RedisPassword = in.RedisPassword
		c.RedisTLS = in.RedisTLS
		if in.RedisSentinelMaster != "" {
			c.RedisMode = appconfig.RedisSentinel
			c.RedisSentinelMaster = in.RedisSentinelMaster
		}
	}
	if in.PostgresMaxConns > 0 {
		c.PostgresMaxConns = in.PostgresMaxConns
	}
	if p.Has(RoleChroma) {
		c.VectorBackend = appconfig.VectorChroma
		c.ChromaURL = in.ChromaURL
	}
	c.OpenAIAPIKey = in.OpenAIKey
	c.ReplicateAPIToken = in.ReplicateToken
	c.GumroadProductID = p.GumroadProductID
	c.LicenseSecret = in.LicenseSecret
	if len(p.Inference) > 0 {
		c.InferenceChain = p.Inference
	}
	if err := c.Validate(); err != nil {
		return nil, &Error{Key: "appConfig", Message: "the app would refuse this phase's configuration: " + err.Error() +
			" (set the matching secret, or the inference key, e.g. [\"offline\"])"}
	}
	return c, nil
}
