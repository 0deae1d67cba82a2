package cost

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/digitalocean/godo"
)

// Preflight checks, with a token for the chosen cloud, that every server type
// (Hetzner) or droplet size (DigitalOcean) in kinds exists, is available in
// that location/region and is not deprecated; DigitalOcean database sizes
// ("db-…") are checked against the managed PostgreSQL and Valkey options. It
// refuses Hetzner types the snapshot marks retired, naming current ones.
// Load balancer, volume and free kinds are not checked here. Without a token
// for the chosen cloud it returns nil: the offline catalog check happens
// elsewhere. All problems are reported together, each naming the kind, the
// region and what is available there.
func Preflight(ctx context.Context, hcloudToken, doToken, cloud, region string, kinds []string, opts ...Option) error {
	c, err := normalizeCloud(cloud)
	if err != nil {
		return err
	}
	region = strings.ToLower(strings.TrimSpace(region))
	o := buildOptions(opts)
	switch c {
	case Hetzner:
		if hcloudToken == "" {
			return nil
		}
		return preflightHetzner(ctx, hcloudToken, region, kinds, o)
	default:
		if doToken == "" {
			return nil
		}
		return preflightDO(ctx, doToken, region, kinds, o)
	}
}

func serverKinds(cloud string, kinds []string) []string {
	s, _ := loadSnapshot()
	var free []string
	if s != nil {
		if cloud == Hetzner {
			free = s.Hetzner.Free
		} else {
			free = s.DigitalOcean.Free
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, k := range kinds {
		it := normalizeItem(Item{Kind: k})
		if it.Kind == "" || seen[it.Kind] {
			continue
		}
		seen[it.Kind] = true
		cat := classify(cloud, it, free)
		if cat == catServer || (cloud == DigitalOcean && strings.HasPrefix(it.Kind, "db-")) {
			out = append(out, it.Kind)
		}
	}
	return out
}

func preflightHetzner(ctx context.Context, token, location string, kinds []string, o options) error {
	kinds = serverKinds(Hetzner, kinds)
	if len(kinds) == 0 {
		return nil
	}
	cat, err := fetchHcloud(ctx, newHcloudClient(token, o), false)
	if err != nil {
		return preflightErr(err)
	}
	if err := cat.checkLocation(location); err != nil {
		return preflightErr(err)
	}
	var errs []error
	for _, k := range kinds {
		if err := cat.typeError(k, "", location); err != nil {
			errs = append(errs, preflightErr(err))
		}
	}
	return errors.Join(errs...)
}

func preflightDO(ctx context.Context, token, region string, kinds []string, o options) error {
	kinds = serverKinds(DigitalOcean, kinds)
	if len(kinds) == 0 {
		return nil
	}
	client, err := newGodoClient(token, o)
	if err != nil {
		return preflightErr(err)
	}
	var droplets, dbs []string
	for _, k := range kinds {
		if strings.HasPrefix(k, "db-") {
			dbs = append(dbs, k)
		} else {
			droplets = append(droplets, k)
		}
	}
	var errs []error
	if len(droplets) > 0 {
		cat, err := fetchDO(ctx, client)
		if err != nil {
			return preflightErr(err)
		}
		if err := cat.checkRegion(region); err != nil {
			return preflightErr(err)
		}
		for _, k := range droplets {
			if err := cat.sizeError(k, "", region); err != nil {
				errs = append(errs, preflightErr(err))
			}
		}
	}
	if len(dbs) > 0 {
		opts, _, err := client.Databases.ListOptions(ctx)
		if err != nil {
			return preflightErr(fmt.Errorf("DigitalOcean API: listing database options (GET /v2/databases/options): %w", err))
		}
		engines := []struct {
			name string
			o    godo.DatabaseEngineOptions
		}{{"PostgreSQL", opts.PostgresSQLOptions}, {"Valkey", opts.ValkeyOptions}}
		for _, k := range dbs {
			ok := false
			var avail []string
			for _, e := range engines {
				if !contains(e.o.Regions, region) {
					continue
				}
				for _, l := range e.o.Layouts {
					for _, s := range l.Sizes {
						if !contains(avail, s) {
							avail = append(avail, s)
						}
						if s == k {
							ok = true
						}
					}
				}
			}
			if !ok {
				errs = append(errs, fmt.Errorf("preflight: DigitalOcean database size %q is not offered for PostgreSQL or Valkey in %s; available there: %s",
					k, region, joinOrNone(avail)))
			}
		}
	}
	return errors.Join(errs...)
}

// preflightError prefixes "preflight: " (instead of "cost: ") and keeps the
// cause for errors.Is / errors.As.
type preflightError struct{ err error }

func (e preflightError) Error() string {
	return "preflight: " + strings.TrimPrefix(e.err.Error(), "cost: ")
}

func (e preflightError) Unwrap() error { return e.err }

func preflightErr(err error) error { return preflightError{err} }
