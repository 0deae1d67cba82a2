// Package redistest connects tests to a real Redis under a key prefix of
// their own, so runs sharing the test Redis never see each other's keys.
package redistest

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/flavormonk/flavormonk/app/redis"
)

// Cache connects to the Redis at rawURL (redis://:password@host:port/db)
// under a fresh key prefix, and closes it when the test ends.
func Cache(t testing.TB, rawURL string) *redis.Cache {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	var b [8]byte
	_, _ = rand.Read(b[:])
	c, err := redis.New(redis.Options{Mode: redis.ModeSingle, Addrs: []string{u.Host}, Password: pw,
		KeyPrefix: "fmtest:" + hex.EncodeToString(b[:]) + ":"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
