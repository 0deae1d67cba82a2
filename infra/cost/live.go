package cost

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

// Option configures Live and Preflight.
type Option func(*options)

type options struct {
	hcloudEndpoint string
	doBaseURL      string
	httpClient     *http.Client
	now            func() time.Time
	fallback       bool
}

// WithHcloudEndpoint points the Hetzner client at another API endpoint (tests:
// an httptest server URL). It is passed to hcloud.WithEndpoint.
func WithHcloudEndpoint(url string) Option { return func(o *options) { o.hcloudEndpoint = url } }

// WithDigitalOceanBaseURL points the DigitalOcean client at another base URL
// (tests: an httptest server URL + "/"). It is passed to godo.SetBaseURL.
func WithDigitalOceanBaseURL(url string) Option { return func(o *options) { o.doBaseURL = url } }

// WithHTTPClient sets the HTTP client both API clients use.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		if c != nil {
			o.httpClient = c
		}
	}
}

// WithClock sets the clock that dates live figures ("hcloud API 2026-11-27").
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithSnapshotFallback makes Live price from the snapshot (with a warning)
// when a cloud's API cannot be reached, instead of returning the error.
func WithSnapshotFallback() Option { return func(o *options) { o.fallback = true } }

func buildOptions(opts []Option) options {
	o := options{
		httpClient: &http.Client{Timeout: 30 * time.Second},
		now:        time.Now,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Live returns a Pricer that asks the clouds' APIs: Hetzner's /pricing and
// /server_types (hcloud-go) and DigitalOcean's /v2/sizes (godo, droplets
// only). What the APIs do not price — DigitalOcean managed PostgreSQL and
// Valkey, load balancers, volumes, the DOKS control plane; anything missing —
// and everything for a cloud whose token is empty comes from the snapshot,
// and its lines say so. API answers are cached for the Pricer's lifetime.
func Live(hcloudToken, doToken string, opts ...Option) Pricer {
	return &livePricer{hcloudToken: hcloudToken, doToken: doToken, o: buildOptions(opts)}
}

type livePricer struct {
	hcloudToken, doToken string
	o                    options

	mu  sync.Mutex
	hc  *hcloudCatalog
	doc *doCatalog
}

func (l *livePricer) Price(ctx context.Context, cloud, region string, items []Item) (*Estimate, error) {
	c, err := normalizeCloud(cloud)
	if err != nil {
		return nil, err
	}
	region = strings.ToLower(strings.TrimSpace(region))
	date := l.o.now().Format("2006-01-02")
	var live livePriceFunc
	var fetchErr error
	switch c {
	case Hetzner:
		if l.hcloudToken == "" {
			return withWarning(snapshotEstimate(c, region, items, nil))("no Hetzner token: every figure is from the snapshot")
		}
		cat, err := l.hcloud(ctx)
		if err != nil {
			fetchErr = err
			break
		}
		if err := cat.checkLocation(region); err != nil {
			return nil, err
		}
		live = cat.pricer(region, "hcloud API "+date)
	case DigitalOcean:
		if l.doToken == "" {
			return withWarning(snapshotEstimate(c, region, items, nil))("no DigitalOcean token: every figure is from the snapshot")
		}
		cat, err := l.digitalocean(ctx)
		if err != nil {
			fetchErr = err
			break
		}
		if err := cat.checkRegion(region); err != nil {
			return nil, err
		}
		live = cat.pricer(region, "DigitalOcean API "+date)
	}
	if fetchErr != nil {
		if !l.o.fallback {
			return nil, fetchErr
		}
		return withWarning(snapshotEstimate(c, region, items, nil))(
			fmt.Sprintf("live pricing failed (%v): every figure is from the snapshot", fetchErr))
	}
	return snapshotEstimate(c, region, items, live)
}

func withWarning(e *Estimate, err error) func(string) (*Estimate, error) {
	return func(w string) (*Estimate, error) {
		if err != nil {
			return nil, err
		}
		e.Warnings = append([]string{w}, e.Warnings...)
		return e, nil
	}
}

// ---- Hetzner ----

func newHcloudClient(token string, o options) *hcloud.Client {
	copts := []hcloud.ClientOption{
		hcloud.WithToken(token),
		hcloud.WithApplication("flavormonk-cost", ""),
		hcloud.WithHTTPClient(o.httpClient),
		hcloud.WithRetryOpts(hcloud.RetryOpts{MaxRetries: 2}),
	}
	if o.hcloudEndpoint != "" {
		copts = append(copts, hcloud.WithEndpoint(o.hcloudEndpoint))
	}
	return hcloud.NewClient(copts...)
}

type hcloudCatalog struct {
	currency  string
	servers   map[string]map[string]float64 // type → location → net monthly
	lbs       map[string]map[string]float64 // lb type → location → net monthly
	volume    float64                       // per GB-month; 0 if not priced
	ipv4      map[string]float64            // location → net monthly
	types     map[string]*hcloud.ServerType
	locations map[string]bool
}

func (l *livePricer) hcloud(ctx context.Context) (*hcloudCatalog, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hc != nil {
		return l.hc, nil
	}
	cat, err := fetchHcloud(ctx, newHcloudClient(l.hcloudToken, l.o), true)
	if err != nil {
		return nil, err
	}
	l.hc = cat
	return cat, nil
}

func parseNet(s string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return v, err == nil
}

func fetchHcloud(ctx context.Context, c *hcloud.Client, withPricing bool) (*hcloudCatalog, error) {
	cat := &hcloudCatalog{
		servers:   map[string]map[string]float64{},
		lbs:       map[string]map[string]float64{},
		ipv4:      map[string]float64{},
		types:     map[string]*hcloud.ServerType{},
		locations: map[string]bool{},
	}
	types, err := c.ServerType.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("cost: Hetzner Cloud API: listing server types (GET /server_types): %w", err)
	}
	for _, t := range types {
		cat.types[strings.ToLower(t.Name)] = t
		for _, loc := range t.Locations {
			if loc.Location != nil && loc.Location.Name != "" {
				cat.locations[loc.Location.Name] = true
			}
		}
	}
	if !withPricing {
		return cat, nil
	}
	p, err := getPricing(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("cost: Hetzner Cloud API: reading prices (GET /pricing): %w", err)
	}
	cat.currency = p.Currency
	if p.Currency != "" && Currency(p.Currency) != EUR {
		return nil, fmt.Errorf("cost: Hetzner Cloud API priced in %q; this estimate expects EUR", p.Currency)
	}
	for _, st := range p.ServerTypes {
		if st.ServerType == nil {
			continue
		}
		m := map[string]float64{}
		for _, pr := range st.Pricings {
			if pr.Location == nil {
				continue
			}
			if v, ok := parseNet(pr.Monthly.Net); ok {
				m[pr.Location.Name] = v
				cat.locations[pr.Location.Name] = true
			}
		}
		cat.servers[strings.ToLower(st.ServerType.Name)] = m
	}
	for _, lt := range p.LoadBalancerTypes {
		if lt.LoadBalancerType == nil {
			continue
		}
		m := map[string]float64{}
		for _, pr := range lt.Pricings {
			if pr.Location == nil {
				continue
			}
			if v, ok := parseNet(pr.Monthly.Net); ok {
				m[pr.Location.Name] = v
			}
		}
		cat.lbs[strings.ToLower(lt.LoadBalancerType.Name)] = m
	}
	if v, ok := parseNet(p.Volume.PerGBMonthly.Net); ok {
		cat.volume = v
	}
	for _, ip := range p.PrimaryIPs {
		if ip.Type != "ipv4" {
			continue
		}
		for _, pr := range ip.Pricings {
			if v, ok := parseNet(pr.Monthly.Net); ok {
				cat.ipv4[pr.Location] = v
			}
		}
	}
	return cat, nil
}

// getPricing calls hcloud-go's Pricing.Get, turning a panic into an error:
// hcloud-go v2.52.0 sizes its primary-IP slice by the number of floating-IP
// entries (schema_gen.go, primaryIPPricingFromSchema) and panics when the API
// returns more primary_ips than floating_ips.
func getPricing(ctx context.Context, c *hcloud.Client) (p hcloud.Pricing, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("hcloud-go could not read the /pricing answer: %v", r)
		}
	}()
	p, _, err = c.Pricing.Get(ctx)
	return p, err
}

func (c *hcloudCatalog) checkLocation(location string) error {
	if c.locations[location] {
		return nil
	}
	return fmt.Errorf("cost: unknown Hetzner location %q (the Hetzner Cloud API lists: %s)",
		location, joinOrNone(sortedKeys(c.locations)))
}

// availableIn lists the server types the API offers, not deprecated, in location.
func (c *hcloudCatalog) availableIn(location string) []string {
	var out []string
	for _, name := range sortedKeys(c.types) {
		if c.typeProblem(name, location) == "" {
			out = append(out, name)
		}
	}
	return out
}

// typeProblem returns "" when the type exists, is available in location and
// is not deprecated; otherwise why not.
func (c *hcloudCatalog) typeProblem(name, location string) string {
	t, ok := c.types[name]
	if !ok {
		return "does not exist"
	}
	if t.IsDeprecated() {
		return fmt.Sprintf("is deprecated (unavailable after %s)", t.UnavailableAfter().Format("2006-01-02"))
	}
	if len(t.Locations) > 0 {
		found := false
		for _, loc := range t.Locations {
			if loc.Location == nil || loc.Location.Name != location {
				continue
			}
			found = true
			if loc.IsDeprecated() {
				return fmt.Sprintf("is deprecated in %s (unavailable after %s)", location, loc.UnavailableAfter().Format("2006-01-02"))
			}
			if !loc.Available {
				return fmt.Sprintf("is not available in %s right now", location)
			}
		}
		if !found {
			return fmt.Sprintf("is not offered in %s", location)
		}
	}
	if len(c.servers) > 0 {
		if _, ok := c.servers[name][location]; !ok {
			return fmt.Sprintf("has no price in %s", location)
		}
	}
	return ""
}

func (c *hcloudCatalog) typeError(kind, role, location string) error {
	s, err := loadSnapshot()
	if err != nil {
		return err
	}
	if r, ok := s.Hetzner.Retired[kind]; ok {
		return fmt.Errorf("cost: Hetzner server type %q%s is retired; use %s instead, or another type available in %s: %s",
			kind, forRole(role), r.Replacement, location, joinOrNone(c.availableIn(location)))
	}
	if why := c.typeProblem(kind, location); why != "" {
		return fmt.Errorf("cost: Hetzner server type %q%s %s; available in %s (Hetzner Cloud API): %s",
			kind, forRole(role), why, location, joinOrNone(c.availableIn(location)))
	}
	return nil
}

func forRole(role string) string {
	if role == "" {
		return ""
	}
	return " (for " + role + ")"
}

func (c *hcloudCatalog) pricer(location, source string) livePriceFunc {
	return func(it Item, cat category) (float64, string, bool, error) {
		switch cat {
		case catServer:
			if err := c.typeError(it.Kind, it.Role, location); err != nil {
				return 0, "", false, err
			}
			return c.servers[it.Kind][location], source, true, nil
		case catLB:
			m, ok := c.lbs[it.Kind]
			if !ok && len(c.lbs) > 0 {
				return 0, "", false, fmt.Errorf("cost: unknown Hetzner load balancer type %q (for %s); the Hetzner Cloud API lists: %s",
					it.Kind, it.Role, joinOrNone(sortedKeys(c.lbs)))
			}
			if v, ok := m[location]; ok {
				return v, source, true, nil
			}
		case catVolume:
			if c.volume > 0 {
				return c.volume, source, true, nil
			}
		case catIPv4:
			if v, ok := c.ipv4[location]; ok {
				return v, source, true, nil
			}
		}
		return 0, "", false, nil // free items and anything unpriced: snapshot
	}
}

// ---- DigitalOcean ----

type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	base := b.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

func newGodoClient(token string, o options) (*godo.Client, error) {
	hc := *o.httpClient
	hc.Transport = bearer{token: strings.TrimSpace(token), base: o.httpClient.Transport}
	copts := []godo.ClientOpt{godo.SetUserAgent("flavormonk-cost")}
	if o.doBaseURL != "" {
		base := o.doBaseURL
		if !strings.HasSuffix(base, "/") {
			base += "/"
		}
		copts = append(copts, godo.SetBaseURL(base))
	}
	return godo.New(&hc, copts...)
}

type doCatalog struct {
	sizes   map[string]godo.Size
	regions map[string]bool
}

func (l *livePricer) digitalocean(ctx context.Context) (*doCatalog, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.doc != nil {
		return l.doc, nil
	}
	c, err := newGodoClient(l.doToken, l.o)
	if err != nil {
		return nil, err
	}
	cat, err := fetchDO(ctx, c)
	if err != nil {
		return nil, err
	}
	l.doc = cat
	return cat, nil
}

func fetchDO(ctx context.Context, c *godo.Client) (*doCatalog, error) {
	cat := &doCatalog{sizes: map[string]godo.Size{}, regions: map[string]bool{}}
	opt := &godo.ListOptions{Page: 1, PerPage: 200}
	for pages := 0; ; pages++ {
		if pages > 100 {
			return nil, fmt.Errorf("cost: DigitalOcean API: more than 100 pages of sizes; giving up")
		}
		sizes, resp, err := c.Sizes.List(ctx, opt)
		if err != nil {
			return nil, fmt.Errorf("cost: DigitalOcean API: listing droplet sizes (GET /v2/sizes): %w", err)
		}
		for _, s := range sizes {
			cat.sizes[strings.ToLower(s.Slug)] = s
			for _, r := range s.Regions {
				cat.regions[r] = true
			}
		}
		if resp == nil || resp.Links == nil || resp.Links.IsLastPage() {
			break
		}
		page, err := resp.Links.CurrentPage()
		if err != nil {
			return nil, fmt.Errorf("cost: DigitalOcean API: reading the sizes page links: %w", err)
		}
		opt.Page = page + 1
	}
	if len(cat.sizes) == 0 {
		return nil, fmt.Errorf("cost: DigitalOcean API returned no droplet sizes")
	}
	return cat, nil
}

func (c *doCatalog) checkRegion(region string) error {
	if c.regions[region] {
		return nil
	}
	return fmt.Errorf("cost: unknown DigitalOcean region %q (the DigitalOcean API offers droplets in: %s)",
		region, joinOrNone(sortedKeys(c.regions)))
}

func (c *doCatalog) availableIn(region string) []string {
	var out []string
	for _, slug := range sortedKeys(c.sizes) {
		s := c.sizes[slug]
		if s.Available && contains(s.Regions, region) {
			out = append(out, slug)
		}
	}
	return out
}

func (c *doCatalog) sizeError(kind, role, region string) error {
	s, ok := c.sizes[kind]
	why := ""
	switch {
	case !ok:
		why = "does not exist"
	case !s.Available:
		why = "is not available (retired or sold out)"
	case !contains(s.Regions, region):
		why = "is not offered in " + region
	default:
		return nil
	}
	list := c.availableIn(region)
	sort.Strings(list)
	return fmt.Errorf("cost: DigitalOcean droplet size %q%s %s; available in %s (DigitalOcean API): %s",
		kind, forRole(role), why, region, joinOrNone(list))
}

func (c *doCatalog) pricer(region, source string) livePriceFunc {
	return func(it Item, cat category) (float64, string, bool, error) {
		if cat != catServer {
			return 0, "", false, nil // the Sizes API prices droplets only
		}
		if err := c.sizeError(it.Kind, it.Role, region); err != nil {
			return 0, "", false, err
		}
		return c.sizes[it.Kind].PriceMonthly, source, true, nil
	}
}
