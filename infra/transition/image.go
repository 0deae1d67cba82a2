package transition

import (
	"fmt"

	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/plan"
)

// imageNotes reports a serverImage change on the Hetzner db server. The
// server ignores image and user data after creation (invariant 2), so the
// change is no replacement and Check's table does not flag it; but it sets
// the PostgreSQL major of any db server made from now on, and a data volume
// of one major is not readable by another: the operator must know.
func imageNotes(from, to *mockrun.Capture) []string {
	const server = "hcloud:index/server:Server"
	a, okA := from.Find(server, "db")
	b, okB := to.Find(server, "db")
	if !okA || !okB {
		return nil
	}
	img := func(r mockrun.Resource) string {
		if v := r.Inputs[keyOf("image")]; v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	ia, ib := img(a), img(b)
	if ia == ib {
		return nil
	}
	major := func(image string) string {
		if im, ok := plan.Image(plan.Hetzner, image); ok {
			return im.PostgresMajor
		}
		return "?"
	}
	ma, mb := major(ia), major(ib)
	msg := fmt.Sprintf("%s: serverImage %s → %s. The running db server is not replaced and keeps %s with PostgreSQL %s "+
		"(image and user data are ignored after creation); servers created from now on get %s.", a.URN, ia, ib, ia, ma, ib)
	if ma != mb {
		msg += fmt.Sprintf(" If the db server is ever replaced, its data volume survives and is re-attached, but the new server runs PostgreSQL %s, "+
			"which cannot open the PostgreSQL %s cluster on it: take a dump first and restore it after "+
			"(README, \"Changing serverImage on a stack with data\"), or keep serverImage at %s.", mb, ma, ia)
	}
	return []string{msg}
}
