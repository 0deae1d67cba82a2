package cost

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
)

//go:embed snapshot.json
var snapshotJSON []byte

type snapshotFile struct {
	AsOf         string      `json:"as_of"`
	Notes        []string    `json:"notes"`
	Hetzner      hetznerSnap `json:"hetzner"`
	DigitalOcean doSnap      `json:"digitalocean"`
}

type hetznerSnap struct {
	Currency          Currency                  `json:"currency"`
	Source            string                    `json:"source"`
	LocationGroups    map[string][]string       `json:"location_groups"`
	ServerTypes       map[string]snapServerType `json:"server_types"`
	Retired           map[string]retiredType    `json:"retired"`
	LoadBalancerTypes map[string]float64        `json:"load_balancer_types"`
	VolumePerGBMonth  float64                   `json:"volume_per_gb_month"`
	PrimaryIPv4       float64                   `json:"primary_ipv4_monthly"`
	Free              []string                  `json:"free"`
}

type snapServerType struct {
	VCPUs    int                `json:"vcpus"`
	MemoryGB float64            `json:"memory_gb"`
	Arch     string             `json:"arch"`
	CPU      string             `json:"cpu"`
	Monthly  map[string]float64 `json:"monthly"` // location group → EUR net
}

type retiredType struct {
	Replacement string `json:"replacement"`
}

type doSnap struct {
	Currency           Currency               `json:"currency"`
	Source             string                 `json:"source"`
	Regions            []string               `json:"regions"`
	Droplets           map[string]snapDroplet `json:"droplets"`
	ManagedPostgres    map[string]snapDB      `json:"managed_postgres"`
	ManagedValkey      map[string]snapDB      `json:"managed_valkey"`
	LoadBalancerNode   float64                `json:"load_balancer_node_monthly"`
	VolumePerGBMonth   float64                `json:"volume_per_gb_month"`
	DOKSHAControlPlane float64                `json:"doks_ha_control_plane_monthly"`
	Free               []string               `json:"free"`
}

type snapDroplet struct {
	Monthly float64  `json:"monthly"`
	Regions []string `json:"regions,omitempty"` // empty: every region in the snapshot
}

type snapDB struct {
	Monthly float64 `json:"monthly"`
	Standby bool    `json:"standby"`
}

var (
	snapOnce sync.Once
	snapData *snapshotFile
	snapErr  error
)

func loadSnapshot() (*snapshotFile, error) {
	snapOnce.Do(func() {
		var s snapshotFile
		if err := json.Unmarshal(snapshotJSON, &s); err != nil {
			snapErr = fmt.Errorf("cost: embedded snapshot.json: %w", err)
			return
		}
		if s.AsOf == "" || s.Hetzner.Currency != EUR || s.DigitalOcean.Currency != USD {
			snapErr = fmt.Errorf("cost: embedded snapshot.json lacks as_of or has unexpected currencies")
			return
		}
		snapData = &s
	})
	return snapData, snapErr
}

// SnapshotDate is the as_of date of the embedded price snapshot.
func SnapshotDate() string {
	s, err := loadSnapshot()
	if err != nil {
		return ""
	}
	return s.AsOf
}

func (s *snapshotFile) source() string { return "snapshot " + s.AsOf }

// Snapshot returns an offline Pricer that prices everything from the embedded,
// dated snapshot (snapshot.json).
func Snapshot() Pricer { return snapshotPricer{} }

type snapshotPricer struct{}

func (snapshotPricer) Price(_ context.Context, cloud, region string, items []Item) (*Estimate, error) {
	return snapshotEstimate(cloud, region, items, nil)
}

// livePriceFunc prices one item live; ok=false means "not priced live, use the
// snapshot".
type livePriceFunc func(it Item, cat category) (unit float64, source string, ok bool, err error)

// snapshotEstimate prices items, trying live first for each item when live is
// non-nil.
func snapshotEstimate(cloud, region string, items []Item, live livePriceFunc) (*Estimate, error) {
	s, err := loadSnapshot()
	if err != nil {
		return nil, err
	}
	cloud, err = normalizeCloud(cloud)
	if err != nil {
		return nil, err
	}
	region = strings.ToLower(strings.TrimSpace(region))
	e := &Estimate{Cloud: cloud, Region: region}
	var free []string
	switch cloud {
	case Hetzner:
		e.Currency = s.Hetzner.Currency
		free = s.Hetzner.Free
		if live == nil {
			if _, err := s.hetznerGroup(region); err != nil {
				return nil, err
			}
		}
	case DigitalOcean:
		e.Currency = s.DigitalOcean.Currency
		free = s.DigitalOcean.Free
		if live == nil && !contains(s.DigitalOcean.Regions, region) {
			return nil, fmt.Errorf("cost: unknown DigitalOcean region %q (snapshot %s knows: %s)",
				region, s.AsOf, strings.Join(s.DigitalOcean.Regions, ", "))
		}
	}
	snapLines := 0
	for _, raw := range items {
		it := normalizeItem(raw)
		cat := classify(cloud, it, free)
		if err := validateItem(it, cat); err != nil {
			return nil, err
		}
		if live != nil {
			unit, src, ok, err := live(it, cat)
			if err != nil {
				return nil, err
			}
			if ok {
				e.Lines = append(e.Lines, newLine(it, unit, e.Currency, src))
				continue
			}
		}
		var unit float64
		if cloud == Hetzner {
			unit, err = s.hetznerUnit(region, it, cat)
		} else {
			unit, err = s.doUnit(region, it, cat)
		}
		if err != nil {
			return nil, err
		}
		if cat != catFree {
			snapLines++
		}
		src := s.source()
		if cat == catPostgresStandby || cat == catValkeyStandby {
			// DigitalOcean lists no separate standby price (snapshot notes).
			src += " (estimated)"
		}
		e.Lines = append(e.Lines, newLine(it, unit, e.Currency, src))
	}
	if live != nil && snapLines > 0 {
		e.Warnings = append(e.Warnings, fmt.Sprintf(
			"%d line(s) priced from the snapshot of %s (list prices, not live): the %s API does not price them",
			snapLines, s.AsOf, cloudTitle(cloud)))
	}
	if live == nil && snapLines > 0 {
		e.Warnings = append(e.Warnings, fmt.Sprintf(
			"all figures from the price snapshot of %s (list prices, to be refreshed), not from the cloud's API", s.AsOf))
	}
	return finish(e)
}

func (s *snapshotFile) hetznerGroup(location string) (string, error) {
	var all []string
	for g, locs := range s.Hetzner.LocationGroups {
		for _, l := range locs {
			if l == location {
				return g, nil
			}
			all = append(all, l)
		}
	}
	sort.Strings(all)
	return "", fmt.Errorf("cost: unknown Hetzner location %q (snapshot %s knows: %s)", location, s.AsOf, strings.Join(all, ", "))
}

// retiredError explains that a Hetzner type is retired and names current ones.
func (s *snapshotFile) retiredError(kind, location string) error {
	r, ok := s.Hetzner.Retired[kind]
	if !ok {
		return nil
	}
	alts := s.hetznerTypesIn(location)
	return fmt.Errorf("cost: Hetzner server type %q is retired (snapshot %s); use %s instead, or another current type available in %s: %s",
		kind, s.AsOf, r.Replacement, location, joinOrNone(alts))
}

// hetznerTypesIn lists the current snapshot server types offered in location.
func (s *snapshotFile) hetznerTypesIn(location string) []string {
	g, err := s.hetznerGroup(location)
	var out []string
	for _, name := range sortedKeys(s.Hetzner.ServerTypes) {
		if _, ok := s.Hetzner.ServerTypes[name].Monthly[g]; ok || err != nil {
			out = append(out, name)
		}
	}
	return out
}

func (s *snapshotFile) hetznerUnit(location string, it Item, cat category) (float64, error) {
	h := s.Hetzner
	switch cat {
	case catFree:
		return 0, nil
	case catVolume:
		return h.VolumePerGBMonth, nil
	case catIPv4:
		return h.PrimaryIPv4, nil
	case catLB:
		p, ok := h.LoadBalancerTypes[it.Kind]
		if !ok {
			return 0, fmt.Errorf("cost: unknown Hetzner load balancer type %q for %s (snapshot %s knows: %s)",
				it.Kind, it.Role, s.AsOf, strings.Join(sortedKeys(h.LoadBalancerTypes), ", "))
		}
		return p, nil
	case catServer:
		if err := s.retiredError(it.Kind, location); err != nil {
			return 0, err
		}
		g, err := s.hetznerGroup(location)
		if err != nil {
			return 0, err
		}
		st, ok := h.ServerTypes[it.Kind]
		if !ok {
			return 0, fmt.Errorf("cost: unknown Hetzner server type %q for %s; available in %s (snapshot %s): %s",
				it.Kind, it.Role, location, s.AsOf, joinOrNone(s.hetznerTypesIn(location)))
		}
		p, ok := st.Monthly[g]
		if !ok {
			return 0, fmt.Errorf("cost: Hetzner server type %q (for %s) is not offered in %s; available there (snapshot %s): %s",
				it.Kind, it.Role, location, s.AsOf, joinOrNone(s.hetznerTypesIn(location)))
		}
		return p, nil
	}
	return 0, fmt.Errorf("cost: %s (%s) is not offered on Hetzner Cloud (managed databases, Valkey and DOKS are DigitalOcean services)", it.Role, it.Kind)
}

func (s *snapshotFile) dropletsIn(region string) []string {
	var out []string
	for _, name := range sortedKeys(s.DigitalOcean.Droplets) {
		d := s.DigitalOcean.Droplets[name]
		if len(d.Regions) == 0 || contains(d.Regions, region) {
			out = append(out, name)
		}
	}
	return out
}

func (s *snapshotFile) doUnit(region string, it Item, cat category) (float64, error) {
	d := s.DigitalOcean
	dbUnit := func(table map[string]snapDB, what string, standby bool) (float64, error) {
		p, ok := table[it.Kind]
		if !ok {
			return 0, fmt.Errorf("cost: unknown DigitalOcean %s size %q for %s (snapshot %s knows: %s)",
				what, it.Kind, it.Role, s.AsOf, strings.Join(sortedKeys(table), ", "))
		}
		if standby && !p.Standby {
			return 0, fmt.Errorf("cost: DigitalOcean %s size %q cannot have standby nodes (%s); choose a larger size", what, it.Kind, it.Role)
		}
		return p.Monthly, nil
	}
	switch cat {
	case catFree:
		return 0, nil
	case catVolume:
		return d.VolumePerGBMonth, nil
	case catLB:
		return d.LoadBalancerNode, nil
	case catDOKSControlPlane:
		return d.DOKSHAControlPlane, nil
	case catPostgres, catPostgresStandby:
		return dbUnit(d.ManagedPostgres, "managed PostgreSQL", cat == catPostgresStandby)
	case catValkey, catValkeyStandby:
		return dbUnit(d.ManagedValkey, "managed Valkey", cat == catValkeyStandby)
	case catServer:
		dr, ok := d.Droplets[it.Kind]
		if !ok || (len(dr.Regions) > 0 && !contains(dr.Regions, region)) {
			return 0, fmt.Errorf("cost: unknown DigitalOcean droplet size %q for %s in %s; available there (snapshot %s): %s",
				it.Kind, it.Role, region, s.AsOf, joinOrNone(s.dropletsIn(region)))
		}
		return dr.Monthly, nil
	}
	return 0, fmt.Errorf("cost: %s (%s) has no DigitalOcean price", it.Role, it.Kind)
}
