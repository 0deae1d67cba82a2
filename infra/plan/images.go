package plan

import (
	"fmt"
	"strings"
)

// OSImage is a server image the program is tested on, with the PostgreSQL
// major its distribution ships. The Hetzner db server installs that major
// from the distribution's own archive (no third-party repository), so the
// image decides it; DigitalOcean's database is managed and keeps the major
// set in its cluster, but its droplets use the same table.
type OSImage struct {
	Cloud        Cloud
	Name         string // the cloud's image slug
	Distribution string
	// PostgresMajor is the major of the distribution's "postgresql"
	// metapackage (what `apt-get install postgresql` would pull in).
	PostgresMajor string
}

// TestedImages are the server images a plan accepts, the default first per
// cloud. Any other image is refused by name: cloud-init's package names,
// paths and the db host's data directory all follow the major, so an image
// whose major is unknown cannot be set up.
//
// Majors from the distributions' "postgresql" metapackages, which depend on
// exactly one postgresql-N: Debian 12 bookworm postgresql 15+248 → 15 (also
// `apt-cache show postgresql` on the build machines), Debian 13 trixie
// postgresql 17+278 → 17, Ubuntu 24.04 noble postgresql 16+257 → 16
// (packages.debian.org/{bookworm,trixie}/postgresql,
// packages.ubuntu.com/noble/postgresql).
var TestedImages = []OSImage{
	{Hetzner, "debian-12", "Debian 12 (bookworm)", "15"},
	{Hetzner, "debian-13", "Debian 13 (trixie)", "17"},
	{Hetzner, "ubuntu-24.04", "Ubuntu 24.04 (noble)", "16"},
	{DigitalOcean, "debian-12-x64", "Debian 12 (bookworm)", "15"},
	{DigitalOcean, "debian-13-x64", "Debian 13 (trixie)", "17"},
	{DigitalOcean, "ubuntu-24-04-x64", "Ubuntu 24.04 (noble)", "16"},
}

// Image finds a tested image of a cloud by its slug.
func Image(c Cloud, name string) (OSImage, bool) {
	for _, im := range TestedImages {
		if im.Cloud == c && im.Name == name {
			return im, true
		}
	}
	return OSImage{}, false
}

// PostgresMajor is the PostgreSQL major the plan's server image ships, the
// one the Hetzner db server runs.
func (p *Plan) PostgresMajor() string {
	im, _ := Image(p.Cloud, p.ServerImage) // the plan only holds tested images
	return im.PostgresMajor
}

func imageNames(c Cloud) []string {
	var out []string
	for _, im := range TestedImages {
		if im.Cloud == c {
			out = append(out, im.Name)
		}
	}
	return out
}

func untestedImageErr(c Cloud, name string) error {
	var majors []string
	for _, im := range TestedImages {
		if im.Cloud == c {
			majors = append(majors, fmt.Sprintf("%s %s", im.Name, im.PostgresMajor))
		}
	}
	return keyErr("serverImage", "%q is not an image this program is tested on (its PostgreSQL major is unknown); allowed: %s (PostgreSQL major per image: %s)",
		name, strings.Join(imageNames(c), ", "), strings.Join(majors, ", "))
}

// ChromaVersion pins the chromadb/chroma image of the Chroma host on both
// clouds (and in the Hetzner cluster): one release for the whole program,
// of the 1.x server line (HTTP API v2) the app's Chroma tests run against
// (scripts/chroma.sh). A change reaches running hosts over SSH
// (stack.ChromaVersion) with a restart.
const ChromaVersion = "1.0.20"
