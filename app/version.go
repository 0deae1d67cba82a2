package flavormonk

import "runtime/debug"

// Version is the app's version, set at build time with
// -ldflags "-X github.com/flavormonk/flavormonk/app.Version=v1.2.3".
// Without it, the VCS revision from the build info is used when known.
var Version = ""

// BuildVersion returns Version, or a fallback from the Go build info.
func BuildVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "dev"
}
