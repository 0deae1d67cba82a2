package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// ParseEnv reads KEY=VALUE lines (the app config's Env rendering) into a
// map. Blank lines are skipped; anything else without '=' is an error, and
// so is a key given twice.
func ParseEnv(s string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\r") {
			return nil, fmt.Errorf("kube: environment line %d is not KEY=VALUE", i+1)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("kube: environment key %s is given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// Keys lists a map's keys in order (for tests and messages; never values).
func Keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Hash identifies a value without revealing it.
func Hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}
