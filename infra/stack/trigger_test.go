package stack_test

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/stack"
	"github.com/flavormonk/flavormonk/infra/wiring"
)

// hashedTriggers names the remote commands whose triggers hold a
// stack.TriggerHash of the secret they send on stdin, with the index of
// that element (deploy-* lead with the image).
var hashedTriggers = []struct {
	prefix string
	index  int
}{{"db-setup", 0}, {"db-backup-env", 0}, {"redis-setup", 0}, {"deploy-", 1}, {"k3s-start-", 0}}

var hex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)

// triggerStack runs a stack (Hetzner ones with S3 backups) and returns each
// hashed command's trigger hash by command name, after checking it is a
// plain 16-hex-digit string equal to the hash of the command's stdin.
func triggerStack(t *testing.T, cloud, phase string, mut func(cfg map[string]string), o mockrun.Options) map[string]string {
	t.Helper()
	cfg := config(cloud, phase)
	keys := slices.Clone(secretKeys)
	if cloud == "hetzner" {
		cfg["flavormonk:backupS3Endpoint"] = "https://s3.example.com"
		cfg["flavormonk:backupS3Bucket"] = "dumps"
		cfg["flavormonk:backupS3AccessKey"] = "SENTINEL-S3-ACCESS"
		cfg["flavormonk:backupS3SecretKey"] = "SENTINEL-S3-SECRET"
		keys = append(keys, "flavormonk:backupS3AccessKey", "flavormonk:backupS3SecretKey")
	}
	if mut != nil {
		mut(cfg)
	}
	o.Config, o.SecretKeys = cfg, keys
	c, err := mockrun.Run(stack.Program(wiring.Clouds(), nil), o)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range c.ByType("command:remote:Command") {
		i := slices.IndexFunc(hashedTriggers, func(h struct {
			prefix string
			index  int
		}) bool {
			return strings.HasPrefix(r.Name, h.prefix)
		})
		if i < 0 {
			continue
		}
		trig := r.Inputs["triggers"]
		if !trig.IsArray() || len(trig.ArrayValue()) <= hashedTriggers[i].index {
			t.Fatalf("%s: triggers %v", r.Name, trig)
		}
		el := trig.ArrayValue()[hashedTriggers[i].index]
		if el.IsOutput() {
			if o := el.OutputValue(); !o.Secret && o.Known {
				el = o.Element
			}
		}
		if !el.IsString() {
			t.Fatalf("%s: trigger %d is %v, not a plain string (a secret or unknown one fails a real preview)", r.Name, hashedTriggers[i].index, el)
		}
		got := el.StringValue()
		stdin, _ := mockrun.Plain(r.Inputs["stdin"], false).(string)
		sum := sha256.Sum256([]byte(stdin))
		if want := hex.EncodeToString(sum[:8]); !hex16.MatchString(got) || got != want || stdin == "" {
			t.Errorf("%s: trigger %q, want %q, the 16-hex-digit hash of its stdin (%d bytes)", r.Name, got, want, len(stdin))
		}
		out[r.Name] = got
	}
	return out
}

// Each hashed trigger is the plain hash of the secret the command sends,
// and changes when that secret does: a new OpenAI key redeploys the app, a
// regenerated database, Redis or k3s password re-runs the commands that
// install it, new S3 keys rewrite the backup env, and nothing else moves.
func TestTriggerHashes(t *testing.T) {
	for _, tc := range []struct{ cloud, phase string }{
		{"hetzner", "mvp"}, {"hetzner", "upgrade"}, {"hetzner", "scale"}, {"digitalocean", "mvp"}, {"digitalocean", "upgrade"},
	} {
		t.Run(tc.cloud+"/"+tc.phase, func(t *testing.T) {
			base := triggerStack(t, tc.cloud, tc.phase, nil, mockrun.Options{})
			if len(base) == 0 {
				t.Fatal("no command with a hashed trigger")
			}
			for _, ch := range []struct {
				name    string
				mut     func(map[string]string)
				o       mockrun.Options
				changes func(cmd string) bool
			}{
				{"openaiApiKey", func(c map[string]string) { c["flavormonk:openaiApiKey"] = "SENTINEL-OPENAI-KEY-2" }, mockrun.Options{},
					func(n string) bool { return strings.HasPrefix(n, "deploy-") }},
				{"backupS3SecretKey", func(c map[string]string) {
					if tc.cloud == "hetzner" {
						c["flavormonk:backupS3SecretKey"] = "SENTINEL-S3-SECRET-2"
					}
				}, mockrun.Options{},
					func(n string) bool { return n == "db-backup-env" }},
				// Every random password regenerated: the database's (in the
				// Hetzner app env too), Redis's and the k3s token.
				{"random passwords", nil, mockrun.Options{Generation: "2"},
					func(n string) bool {
						return n == "db-setup" || strings.HasPrefix(n, "redis-setup") || strings.HasPrefix(n, "k3s-start-") ||
							(tc.cloud == "hetzner" && strings.HasPrefix(n, "deploy-"))
					}},
			} {
				got := triggerStack(t, tc.cloud, tc.phase, ch.mut, ch.o)
				for name, h := range base {
					if changed := got[name] != h; changed != ch.changes(name) {
						t.Errorf("%s changed: %s trigger %s → %s (changed %v, want %v)", ch.name, name, h, got[name], changed, !changed)
					}
				}
			}
		})
	}
}
