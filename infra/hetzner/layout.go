package hetzner

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/flavormonk/flavormonk/infra/plan"
)

// layout is where every machine sits on the stack's subnet. All addresses
// derive from plan.SubnetCIDR; none is hard-coded. The offsets never depend
// on the phase, so a machine keeps its address from mvp to upgrade and back.
//
//	.1        Hetzner's gateway (reserved)
//	.2        db
//	.3        redis
//	.4        chroma
//	.5        load balancer
//	.6        redis-2 (the replica, scale)
//	.32–.63   app-1 … app-N (a /27 of its own, so data hosts can admit
//	          exactly the app nodes with one stable rule)
//	.64–.127  the k3s cluster (scale, a /26 admitted by one rule):
//	          k3s-server-1…3 at .64–.66, k3s-agent-1… from .72
type layout struct {
	subnet   netip.Prefix
	db       netip.Addr
	redis    netip.Addr
	redis2   netip.Addr
	chroma   netip.Addr
	lb       netip.Addr
	appRange netip.Prefix
	k8sRange netip.Prefix
}

const (
	offsetDB     = 2
	offsetRedis  = 3
	offsetChroma = 4
	offsetLB     = 5
	offsetRedis2 = 6
	offsetApps   = 32
	appRangeBits = 27
	offsetK8s    = 64
	k8sRangeBits = 26
	offsetAgents = 8 // within the k8s range
)

func newLayout(p *plan.Plan) (*layout, error) {
	subnet, err := netip.ParsePrefix(p.SubnetCIDR)
	if err != nil || !subnet.Addr().Is4() {
		return nil, fmt.Errorf("hetzner: subnet %q is not an IPv4 prefix", p.SubnetCIDR)
	}
	subnet = subnet.Masked()
	if subnet.Bits() > 25 {
		return nil, fmt.Errorf("hetzner: subnet %s is too small: the layout needs at least a /25", subnet)
	}
	base := subnet.Addr()
	l := &layout{
		subnet: subnet,
		db:     addN(base, offsetDB),
		redis:  addN(base, offsetRedis),
		chroma: addN(base, offsetChroma),
		lb:     addN(base, offsetLB),
		redis2: addN(base, offsetRedis2),
	}
	l.appRange = netip.PrefixFrom(addN(base, offsetApps), appRangeBits)
	l.k8sRange = netip.PrefixFrom(addN(base, offsetK8s), k8sRangeBits)
	if maxAgents := 1<<(32-k8sRangeBits) - offsetAgents; p.Cluster.NodesMin > maxAgents {
		return nil, &plan.Error{Key: "nodesMin", Message: fmt.Sprintf("%d k3s agents do not fit the cluster range %s (at most %d)", p.Cluster.NodesMin, l.k8sRange, maxAgents)}
	}
	if maxApps := 1<<(32-appRangeBits) - 1; p.AppCount > maxApps {
		return nil, &plan.Error{Key: "appCount", Message: fmt.Sprintf("%d app servers do not fit the app range %s (at most %d)", p.AppCount, l.appRange, maxApps)}
	}
	return l, nil
}

// app is the private address of app-i (1-based).
func (l *layout) app(i int) netip.Addr { return addN(l.appRange.Addr(), i-1) }

// k3sServer is the private address of k3s-server-i (1-based).
func (l *layout) k3sServer(i int) netip.Addr { return addN(l.k8sRange.Addr(), i-1) }

// k3sAgent is the private address of k3s-agent-i (1-based).
func (l *layout) k3sAgent(i int) netip.Addr { return addN(l.k8sRange.Addr(), offsetAgents+i-1) }

func addN(a netip.Addr, n int) netip.Addr {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

var notNameChar = regexp.MustCompile(`[^a-z0-9-]+`)

// names gives the cloud-side (physical) names and labels of a stack's
// resources. Logical (Pulumi) names are fixed strings in the code and
// never depend on the phase; physical names add the stack so several
// stacks can share one Hetzner project.
type names struct{ prefix, stack string }

func newNames(p *plan.Plan) names {
	s := strings.Trim(notNameChar.ReplaceAllString(strings.ToLower(p.Stack), "-"), "-")
	if s == "" {
		s = "stack"
	}
	if len(s) > 40 {
		s = strings.Trim(s[:40], "-")
	}
	return names{prefix: plan.Namespace + "-" + s, stack: s}
}

// physical is the cloud-side name, a valid host name for servers.
func (n names) physical(logical string) string { return n.prefix + "-" + logical }

// labels are attached to every Hetzner resource of the stack.
func (n names) labels(role string) map[string]string {
	return map[string]string{"app": plan.Namespace, "stack": n.stack, "role": role}
}
