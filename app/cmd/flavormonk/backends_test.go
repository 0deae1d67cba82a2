package main

import (
	"testing"

	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/redis"
)

func TestRedisOptions(t *testing.T) {
	env := map[string]string{
		"FLAVORMONK_TIER":                  "scale",
		"FLAVORMONK_STORE":                 "postgres",
		"FLAVORMONK_POSTGRES_URL":          "postgres://x@db/x",
		"FLAVORMONK_REDIS_MODE":            "sentinel",
		"FLAVORMONK_REDIS_ADDRS":           "10.0.0.5:26379,10.0.0.6:26379",
		"FLAVORMONK_REDIS_PASSWORD":        "pw",
		"FLAVORMONK_REDIS_SENTINEL_MASTER": "fm",
		"FLAVORMONK_REDIS_DB":              "2",
		"FLAVORMONK_SEARCH":                "lexical",
		"FLAVORMONK_VECTOR":                "none",
		"FLAVORMONK_INFERENCE":             "offline",
	}
	cfg, err := config.Parse(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := redisOptions(cfg)
	if o.Mode != redis.ModeSentinel || len(o.Addrs) != 2 || o.Password != "pw" || o.SentinelMaster != "fm" || o.DB != 2 || o.KeyPrefix != "fm:" {
		t.Fatalf("redisOptions = %+v", o)
	}
	c, err := redis.New(o)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// The configuration's mode names are passed to the client as they are.
func TestRedisModeNames(t *testing.T) {
	for cfg, client := range map[string]string{
		config.RedisSingle:   redis.ModeSingle,
		config.RedisCluster:  redis.ModeCluster,
		config.RedisSentinel: redis.ModeSentinel,
	} {
		if cfg != client {
			t.Errorf("FLAVORMONK_REDIS_MODE=%s is %q to the client", cfg, client)
		}
	}
}
