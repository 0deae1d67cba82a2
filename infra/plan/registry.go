package plan

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// RegistryPlan is the private registry the app servers and the cluster log
// in to before pulling appImage. The zero value means public images: no
// login, no pull secret. Its password (a token) is the secret config
// registryPassword, which the plan never reads.
type RegistryPlan struct {
	// Server is the registry's host[:port], lower case, e.g. ghcr.io.
	Server string
	// Username is the account the token belongs to.
	Username string
}

// Set reports whether a registry is configured.
func (r RegistryPlan) Set() bool { return r.Server != "" }

// dockerHub are the names Docker Hub goes by; an image without a registry
// host is on Docker Hub.
var dockerHub = map[string]bool{"docker.io": true, "index.docker.io": true, "registry-1.docker.io": true}

// AuthKey is the registry's key in a Docker config's "auths": Docker Hub's
// is its v1 index URL (what docker login writes and what the kubelet looks
// up for Docker Hub images), every other registry's is its host[:port].
func (r RegistryPlan) AuthKey() string {
	if dockerHub[r.Server] {
		return "https://index.docker.io/v1/"
	}
	return r.Server
}

// registryHost is a host[:port]: DNS labels (or an IPv4 address) and an
// optional port, no scheme, path or credentials.
var registryHost = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$`)

const registryExample = `{"server": "ghcr.io", "username": "acme-bot"}`

// compileRegistry reads the registry key: a JSON object with server and
// username, both or neither.
func (p *Plan) compileRegistry(get Getter) error {
	const key = "registry"
	raw, ok := get(key)
	if !ok || strings.TrimSpace(raw) == "" {
		return nil
	}
	var r struct {
		Server   *string `json:"server"`
		Username *string `json:"username"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		if f, found := strings.CutPrefix(err.Error(), "json: unknown field "); found {
			if f, _ := strconv.Unquote(f); f == "password" || f == "token" {
				return keyErr(key, "holds a %s: the token goes in the secret registryPassword (`pulumi config set --secret registryPassword`), never in plain config", f)
			}
			return keyErr(key, "unknown field %s; allowed: server, username", f)
		}
		return keyErr(key, "must be a JSON object like %s (`pulumi config set --path registry.server ghcr.io`): %v", registryExample, err)
	}
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return strings.TrimSpace(*s)
	}
	server, user := strings.ToLower(deref(r.Server)), deref(r.Username)
	switch {
	case server == "" && user == "":
		return nil
	case server == "":
		return keyErr(key, "server must be set with username %q, e.g. %s", user, registryExample)
	case user == "":
		return keyErr(key, "username must be set with server %q: the account the registryPassword token belongs to", server)
	}
	if !validRegistryHost(server) {
		return keyErr(key, "server %q must be a registry host[:port] like ghcr.io or registry.example.com:5000, without a scheme (https://) or a path", server)
	}
	// Basic auth joins user and password with a colon; the rest would
	// break the login's command line or the Docker config.
	if len(user) > 255 || strings.ContainsFunc(user, func(c rune) bool { return c == ':' || unicode.IsSpace(c) || !unicode.IsPrint(c) }) {
		return keyErr(key, "username %q must be one word of printable characters without ':', at most 255", user)
	}
	// The login is for the registry appImage comes from: another one's
	// credentials would leave the first deploy failing on a private image.
	if host := imageRegistry(p.AppImage); host != server && !(dockerHub[host] && dockerHub[server]) {
		return keyErr(key, "server %q is not appImage's registry %q: the hosts and the cluster log in to the registry the image is pulled from", server, host)
	}
	p.Registry = RegistryPlan{Server: server, Username: user}
	return nil
}

func validRegistryHost(s string) bool {
	if !registryHost.MatchString(s) {
		return false
	}
	if _, port, ok := strings.Cut(s, ":"); ok {
		n, err := strconv.Atoi(port)
		return err == nil && n >= 1 && n <= 65535
	}
	return true
}

// imageRegistry is the registry host of an image reference, as docker reads
// it: the first path component when it looks like a host (a dot, a port or
// localhost), Docker Hub otherwise.
func imageRegistry(ref string) string {
	first, _, ok := strings.Cut(ref, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return "docker.io"
}
