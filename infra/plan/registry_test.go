package plan

import (
	"errors"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	for _, tc := range []struct {
		name, image, registry string
		want                  RegistryPlan
		authKey               string
	}{
		{"none", "", "", RegistryPlan{}, ""},
		{"empty object", "", `{}`, RegistryPlan{}, ""},
		{"ghcr", "", `{"server": "GHCR.io", "username": "acme-bot"}`, RegistryPlan{Server: "ghcr.io", Username: "acme-bot"}, "ghcr.io"},
		{"port", "registry.example.com:5000/team/flavormonk:v1", `{"server": "registry.example.com:5000", "username": "robot$team+ci"}`,
			RegistryPlan{Server: "registry.example.com:5000", Username: "robot$team+ci"}, "registry.example.com:5000"},
		// An image without a registry host is on Docker Hub, which
		// Kubernetes looks up by its v1 index URL.
		{"docker hub", "acme/flavormonk:v1", `{"server": "docker.io", "username": "acme"}`, RegistryPlan{Server: "docker.io", Username: "acme"}, "https://index.docker.io/v1/"},
		{"docker hub index", "docker.io/acme/flavormonk:v1", `{"server": "index.docker.io", "username": "acme"}`, RegistryPlan{Server: "index.docker.io", Username: "acme"}, "https://index.docker.io/v1/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base("hetzner")
			if tc.image != "" {
				m["appImage"] = tc.image
			}
			if tc.registry != "" {
				m["registry"] = tc.registry
			}
			p, err := compile(m)
			if err != nil {
				t.Fatal(err)
			}
			if p.Registry != tc.want || p.Registry.Set() != (tc.want.Server != "") {
				t.Fatalf("registry %+v, want %+v", p.Registry, tc.want)
			}
			if tc.authKey != "" && p.Registry.AuthKey() != tc.authKey {
				t.Errorf("auth key %q, want %q", p.Registry.AuthKey(), tc.authKey)
			}
		})
	}
}

func TestRegistryErrors(t *testing.T) {
	for _, tc := range []struct{ name, image, registry, contains string }{
		{"scheme", "", `{"server": "https://ghcr.io", "username": "u"}`, "without a scheme"},
		{"path", "", `{"server": "ghcr.io/acme", "username": "u"}`, "host[:port]"},
		{"credentials in host", "", `{"server": "u:p@ghcr.io", "username": "u"}`, "host[:port]"},
		{"port too big", "registry.example.com:70000/a/b:v1", `{"server": "registry.example.com:70000", "username": "u"}`, "host[:port]"},
		{"port zero", "", `{"server": "ghcr.io:0", "username": "u"}`, "host[:port]"},
		{"no username", "", `{"server": "ghcr.io"}`, "username must be set"},
		{"blank username", "", `{"server": "ghcr.io", "username": " "}`, "username must be set"},
		{"no server", "", `{"username": "acme-bot"}`, "server must be set"},
		{"username with colon", "", `{"server": "ghcr.io", "username": "a:b"}`, "without ':'"},
		{"username with space", "", `{"server": "ghcr.io", "username": "a b"}`, "one word"},
		{"password in plain config", "", `{"server": "ghcr.io", "username": "u", "password": "hunter2"}`, "secret registryPassword"},
		{"token in plain config", "", `{"server": "ghcr.io", "username": "u", "token": "x"}`, "secret registryPassword"},
		{"unknown field", "", `{"server": "ghcr.io", "user": "u"}`, `unknown field "user"; allowed: server, username`},
		{"not json", "", `ghcr.io`, "JSON object like"},
		{"not the image's registry", "", `{"server": "registry.example.com", "username": "u"}`, `not appImage's registry "ghcr.io"`},
		{"docker hub for a ghcr image", "", `{"server": "docker.io", "username": "u"}`, `not appImage's registry "ghcr.io"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base("hetzner")
			if tc.image != "" {
				m["appImage"] = tc.image
			}
			m["registry"] = tc.registry
			_, err := compile(m)
			var pe *Error
			if !errors.As(err, &pe) || pe.Key != "registry" || !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("err = %v, want key registry containing %q", err, tc.contains)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error repeats the password: %v", err)
			}
		})
	}
}

func TestRegistryPasswordIsASecretKey(t *testing.T) {
	found := false
	for _, k := range SecretKeys {
		found = found || k == "registryPassword"
	}
	documented := false
	for _, k := range Keys {
		documented = documented || (k.Key == "registryPassword" && strings.HasPrefix(k.Help, "secret:"))
	}
	if !found || !documented {
		t.Errorf("registryPassword: in SecretKeys %v, documented as a secret %v", found, documented)
	}
}
