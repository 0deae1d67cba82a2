package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/stack"
)

// The remote commands' create lines are long shell (the app-host bundle
// carries its files base64-encoded), and a URN says nothing of what a
// changed one will do on a host: Caddy being installed, say. These read
// them back as steps for people.

const remoteCommand = "command:remote:Command"

var (
	// a file sent in the command: echo B64 | base64 -d | install … /dev/stdin PATH
	stepSent = regexp.MustCompile(`^echo [A-Za-z0-9+/=]+ \| base64 -d \| install -D -m [0-7]+ -o \S+ -g \S+ /dev/stdin (\S+)$`)
	// a file from the command's stdin
	stepStdin = regexp.MustCompile(`^install -D -m [0-7]+ -o \S+ -g \S+ /dev/stdin (\S+)$`)
	// { [ -e P ] || { STEP; }; } and { [ ! -e P ] || { STEP; }; }
	stepIfAbsent = regexp.MustCompile(`^\{ \[ -e (\S+) \] \|\| \{ (.*); \}; \}$`)
	stepIfExists = regexp.MustCompile(`^\{ \[ ! -e (\S+) \] \|\| \{ (.*); \}; \}$`)
	// { command -v X || { apt-get [-o OPT]… update && apt-get [-o OPT]… install -y PKG; }; }
	stepAptIfAbsent = regexp.MustCompile(`^\{ command -v (\S+) \|\| \{ apt-get (?:-o \S+ )*update.* && (?:\S+=\S+ )?apt-get (?:-o \S+ )*install -y (?:-qq )?(\S+); \}; \}$`)
	// { ! systemctl cat UNIT || STEP; }
	stepIfUnit = regexp.MustCompile(`^\{ ! systemctl cat (\S+) \|\| (.*); \}$`)
	noise      = strings.NewReplacer("sudo ", "", " >/dev/null", "", " 2>&1", "")
)

// commandSteps reads a remote command's create line as the steps it runs:
// the wait for the first boot left out, files by path, without sudo and
// output redirections; consecutive installs on one line.
func commandSteps(create string) []string {
	var out []string
	install := ""
	flush := func() {
		if install != "" {
			out = append(out, "install "+install)
			install = ""
		}
	}
	for _, s := range splitSteps(strings.TrimPrefix(create, stack.Booted)) {
		s = noise.Replace(s)
		if f, ok := sentFile(s); ok {
			if install != "" {
				install += ", "
			}
			install += f
			continue
		}
		flush()
		switch {
		case stepStdin.MatchString(s):
			s = "install " + stepStdin.FindStringSubmatch(s)[1] + " (from stdin)"
		case stepAptIfAbsent.MatchString(s):
			m := stepAptIfAbsent.FindStringSubmatch(s)
			s = "apt-get install -y " + m[2] + " (where " + m[1] + " is missing)"
		case stepIfUnit.MatchString(s):
			m := stepIfUnit.FindStringSubmatch(s)
			s = m[2] + " (where " + m[1] + " is installed)"
		}
		out = append(out, s)
	}
	flush()
	return out
}

// sentFile is the path of a file the step sends, with its condition.
func sentFile(s string) (string, bool) {
	cond := ""
	if m := stepIfAbsent.FindStringSubmatch(s); m != nil {
		s, cond = m[2], " (where absent)"
	} else if m := stepIfExists.FindStringSubmatch(s); m != nil {
		s, cond = m[2], " (where "+m[1]+" exists)"
	}
	m := stepSent.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return m[1] + cond, true
}

// splitSteps splits a command line at the && between its steps, not
// inside a { …; } group.
func splitSteps(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '{':
			depth++
		case s[i] == '}':
			depth--
		case depth == 0 && strings.HasPrefix(s[i:], " && "):
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + len(" && ")
			i += len(" && ") - 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// commands maps each remote command's name to its create line.
func commands(c *mockrun.Capture) map[string]string {
	out := map[string]string{}
	for _, r := range c.ByType(remoteCommand) {
		create, ok := mockrun.Plain(r.Inputs["create"], true).(string)
		if !ok {
			create = fmt.Sprint(mockrun.Plain(r.Inputs["create"], true))
		}
		out[r.Name] = create
	}
	return out
}

// writeCommands prints the steps of each remote command in to that is new
// or runs another command line than in from (every command when from is
// nil).
func writeCommands(w io.Writer, from, to *mockrun.Capture) {
	var before map[string]string
	if from != nil {
		before = commands(from)
	}
	after := commands(to)
	names := make([]string, 0, len(after))
	for n, create := range after {
		if was, ok := before[n]; from == nil || !ok || was != create {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %s:\n", n)
		for _, s := range commandSteps(after[n]) {
			fmt.Fprintf(w, "    - %s\n", s)
		}
	}
}
