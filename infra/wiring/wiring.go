// Package wiring names the clouds the program can deploy to: the one place
// both main and the offline plan get them from.
package wiring

import (
	"github.com/flavormonk/flavormonk/infra/digitalocean"
	"github.com/flavormonk/flavormonk/infra/hetzner"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
)

// Clouds returns every cloud implementation.
func Clouds() stack.Clouds {
	return stack.Clouds{plan.Hetzner: hetzner.Cloud{}, plan.DigitalOcean: digitalocean.Cloud{}}
}
