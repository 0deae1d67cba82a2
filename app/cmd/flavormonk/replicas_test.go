package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
)

// Two replicas on one Postgres and one Redis: the rate limit is shared (a
// client cannot double its allowance by alternating replicas), and a recipe
// written through one replica is found through the other within seconds.
func TestTwoReplicas(t *testing.T) {
	redisURL := os.Getenv("FLAVORMONK_TEST_REDIS_URL")
	if redisURL == "" {
		if os.Getenv("FLAVORMONK_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("FLAVORMONK_TEST_REDIS_URL is not set; `make test` starts Redis")
		}
		t.Skip("FLAVORMONK_TEST_REDIS_URL is not set")
	}
	ru, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := ru.User.Password()
	pg := servicetest.PostgresDatabase(t)
	env := map[string]string{
		"FLAVORMONK_STORE": "postgres", "FLAVORMONK_POSTGRES_URL": pg,
		"FLAVORMONK_CACHE": "redis", "FLAVORMONK_REDIS_ADDRS": ru.Host, "FLAVORMONK_REDIS_PASSWORD": pw,
		"FLAVORMONK_RATE_LIMIT": "40", "FLAVORMONK_INDEX_POLL": "200ms",
		// Each run counts on its own keys: the test Redis is shared.
		"FLAVORMONK_TRUSTED_PROXIES": "127.0.0.1/32",
	}
	a := startMain(t, testConfig(t, env))
	b := startMain(t, testConfig(t, env))

	client := fmt.Sprintf("203.0.%d.%d", time.Now().UnixNano()%250, time.Now().UnixNano()/7%250) // a fresh client address per run
	ok, limited := 0, 0
	for i := 0; i < 60; i++ {
		base := a.URL()
		if i%2 == 1 {
			base = b.URL()
		}
		r := do(t, "GET", base+"/api/v1/recipes?limit=1", nil, map[string]string{"X-Forwarded-For": client})
		switch r.status {
		case 200:
			ok++
		case 429:
			limited++
		default:
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	// 40 per minute across both replicas (a window boundary may add a few).
	if ok > 45 || limited == 0 {
		t.Fatalf("%d allowed and %d limited across two replicas: the limit is not shared", ok, limited)
	}

	r := &flavormonk.Recipe{ID: "replica-ramen", Name: "Replica Ramen", Servings: 2,
		Ingredients: []flavormonk.Ingredient{{Text: "200 g ramen noodles", Quantity: 200, Unit: "g", Item: "ramen noodles"}},
		Steps:       []flavormonk.Step{{Text: "Cook the noodles."}}}
	if _, err := a.Store.UpsertRecipes(context.Background(), []*flavormonk.Recipe{r}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		res := decode[searchResult](t, do(t, "GET", b.URL()+"/api/v1/recipes?q=replica+ramen", nil, map[string]string{"X-Forwarded-For": "198.51.100.200"}))
		if res.Total == 1 {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("a recipe written through replica A is not found through B within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("rate limit: %d allowed, %d limited; found through the other replica after %s", ok, limited, time.Since(start).Round(time.Millisecond))
}
