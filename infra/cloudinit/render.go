package cloudinit

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// config is one host's cloud-config document, as build assembles it.
type config struct {
	comment  string
	packages []string
	user     string
	keys     []string
	files    []file
	runcmd   []string
}

// file is one write_files entry.
type file struct {
	path, owner, perms, content string
	deferred                    bool // written after the packages are installed
	once                        bool // AppHostFiles: written only where absent
}

// yaml renders the document. Every scalar is quoted or a literal block, so
// no value can break out of its place.
func (c *config) yaml() string {
	var b strings.Builder
	b.WriteString("#cloud-config\n")
	for _, l := range strings.Split(c.comment, "\n") {
		b.WriteString("# " + l + "\n")
	}
	b.WriteString("package_update: true\npackage_upgrade: true\npackages:\n")
	for _, p := range c.packages {
		b.WriteString("  - " + q(p) + "\n")
	}
	b.WriteString("users:\n")
	fmt.Fprintf(&b, "  - name: %s\n    groups: [sudo]\n    shell: /bin/bash\n    sudo: %s\n    lock_passwd: true\n    ssh_authorized_keys:\n",
		q(c.user), q("ALL=(ALL) NOPASSWD:ALL"))
	for _, k := range c.keys {
		b.WriteString("      - " + q(k) + "\n")
	}
	b.WriteString("disable_root: true\nssh_pwauth: false\nwrite_files:\n")
	files := append([]file(nil), c.files...)
	sort.SliceStable(files, func(i, j int) bool { return !files[i].deferred && files[j].deferred })
	for _, f := range files {
		fmt.Fprintf(&b, "  - path: %s\n    owner: %s\n    permissions: %s\n", q(f.path), q(f.owner), q(f.perms))
		if f.deferred {
			b.WriteString("    defer: true\n")
		}
		b.WriteString("    content: " + block(f.content, "      ") + "\n")
	}
	b.WriteString("runcmd:\n")
	for _, r := range c.runcmd {
		b.WriteString("  - " + q(r) + "\n")
	}
	return b.String()
}

// q quotes a YAML scalar (double-quoted style).
func q(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// block renders s as a literal block scalar indented by indent, or "" for
// an empty string.
func block(s, indent string) string {
	if s == "" {
		return `""`
	}
	header := "|"
	if strings.HasPrefix(s, " ") || strings.HasPrefix(s, "\t") || strings.HasPrefix(s, "\n") {
		header += strconv.Itoa(len(indent))
	}
	body := s
	switch {
	case strings.HasSuffix(s, "\n\n"):
		header += "+"
	case strings.HasSuffix(s, "\n"):
	default:
		header += "-"
		body += "\n"
	}
	body = strings.TrimSuffix(body, "\n")
	var b strings.Builder
	b.WriteString(header)
	for _, l := range strings.Split(body, "\n") {
		b.WriteString("\n")
		if l != "" {
			b.WriteString(indent + l)
		}
	}
	return b.String()
}
