// Command infra is the Pulumi program that runs Flavor Monk on Hetzner or
// DigitalOcean; see the README for its stack config keys.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/stack"
	"github.com/flavormonk/flavormonk/infra/wiring"
)

func main() { pulumi.Run(stack.Program(wiring.Clouds(), nil)) }
