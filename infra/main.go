// Command infra will be the Pulumi program that runs Flavor Monk on Hetzner
// or DigitalOcean. It is not built yet (see the infra issue); until then it
// says so instead of pretending to deploy anything.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "infra: the Pulumi program is not implemented yet; nothing was planned or deployed")
	os.Exit(1)
}
