package plan

// VMEntry reports whether Caddy on app-1 serves the web ports (80/443):
// in mvp, where it is the stack's only entry. Phase changes extend this to
// the hand-over window in which the load balancer and DNS take over.
func (p *Plan) VMEntry() bool { return p.Phase == MVP }
