package cost

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Fake cloud APIs speaking the shapes hcloud-go v2.52.0 and godo v1.237.0
// read: Hetzner GET /pricing and GET /server_types?page=N&per_page=50 (with
// meta.pagination); DigitalOcean GET /v2/sizes?page=N&per_page=200 (with
// links.pages) and GET /v2/databases/options.

const (
	fakeHcloudToken = "hc-test-token"
	fakeDOToken     = "do-test-token"
)

var testNow = func() time.Time { return time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) }

type fakeAPI struct {
	*httptest.Server
	mu    sync.Mutex
	calls map[string]int
}

func (f *fakeAPI) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[path]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newFake(t *testing.T, token string, routes map[string]http.HandlerFunc) *fakeAPI {
	t.Helper()
	f := &fakeAPI{calls: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.calls[r.URL.Path]++
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token {
			writeJSON(w, http.StatusUnauthorized, map[string]any{
				"error": map[string]any{"code": "unauthorized", "message": "unable to authenticate"},
				"id":    "unauthorized", "message": "Unable to authenticate you",
			})
			return
		}
		h, ok := routes[r.URL.Path]
		if !ok || r.Method != http.MethodGet {
			writeJSON(w, http.StatusNotFound, map[string]any{
				"error": map[string]any{"code": "not_found", "message": "not found: " + r.URL.Path},
				"id":    "not_found", "message": "not found",
			})
			return
		}
		h(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// ---- Hetzner ----

func hPrice(net string) map[string]string { return map[string]string{"net": net, "gross": net} }

func hLocPrice(loc, monthly string) map[string]any {
	return map[string]any{
		"location":             loc,
		"price_hourly":         hPrice("0.0100"),
		"price_monthly":        hPrice(monthly),
		"included_traffic":     21990232555520,
		"price_per_tb_traffic": hPrice("1.0000"),
	}
}

var (
	euLocs  = []string{"fsn1", "nbg1", "hel1"}
	allLocs = []string{"fsn1", "nbg1", "hel1", "ash", "hil"}
	locIDs  = map[string]int{"fsn1": 1, "nbg1": 2, "hel1": 3, "ash": 4, "hil": 5}
)

type fakeType struct {
	id         int
	name       string
	cores      int
	mem        float64
	arch       string
	monthly    map[string]string // location → net monthly
	deprecated bool              // whole type
	unavail    []string          // locations where available=false
}

var fakeHetznerTypes = []fakeType{
	{1, "cx22", 2, 4, "x86", map[string]string{"fsn1": "3.7900", "nbg1": "3.7900", "hel1": "3.7900"}, true, nil},
	{2, "cpx11", 2, 2, "x86", map[string]string{"fsn1": "4.3500", "ash": "5.0900"}, true, nil},
	{10, "cx23", 2, 4, "x86", map[string]string{"fsn1": "3.7900", "nbg1": "3.7900", "hel1": "3.7900"}, false, nil},
	{11, "cx33", 4, 8, "x86", map[string]string{"fsn1": "6.2900", "nbg1": "6.2900", "hel1": "6.2900"}, false, []string{"hel1"}},
	{12, "cx43", 8, 16, "x86", map[string]string{"fsn1": "11.4900", "nbg1": "11.4900", "hel1": "11.4900"}, false, nil},
	{20, "cpx22", 2, 4, "x86", map[string]string{"fsn1": "8.4900", "nbg1": "8.4900", "hel1": "8.4900", "ash": "10.4900", "hil": "10.4900"}, false, nil},
	{21, "cpx32", 4, 8, "x86", map[string]string{"fsn1": "14.4900", "nbg1": "14.4900", "hel1": "14.4900", "ash": "17.4900", "hil": "17.4900"}, false, nil},
	{30, "cax11", 2, 4, "arm", map[string]string{"fsn1": "4.2900", "nbg1": "4.2900", "hel1": "4.2900"}, false, nil},
	{40, "ccx13", 2, 8, "x86", map[string]string{"fsn1": "15.4900", "nbg1": "15.4900", "hel1": "15.4900", "ash": "17.4900", "hil": "17.4900"}, false, nil},
}

func (ft fakeType) schema() map[string]any {
	var prices, locs []map[string]any
	for _, loc := range allLocs {
		m, ok := ft.monthly[loc]
		if !ok {
			continue
		}
		prices = append(prices, hLocPrice(loc, m))
		l := map[string]any{"id": locIDs[loc], "name": loc, "available": true, "recommended": false, "deprecation": nil}
		for _, u := range ft.unavail {
			if u == loc {
				l["available"] = false
			}
		}
		if ft.deprecated {
			l["deprecation"] = map[string]any{"announced": "2025-10-16T00:00:00Z", "unavailable_after": "2026-01-01T00:00:00Z"}
		}
		locs = append(locs, l)
	}
	var dep any
	if ft.deprecated {
		dep = map[string]any{"announced": "2025-10-16T00:00:00Z", "unavailable_after": "2026-01-01T00:00:00Z"}
	}
	return map[string]any{
		"id": ft.id, "name": ft.name, "description": ft.name, "category": "shared",
		"cores": ft.cores, "memory": ft.mem, "disk": 40, "storage_type": "local", "cpu_type": "shared",
		"architecture": ft.arch, "prices": prices, "deprecated": ft.deprecated, "deprecation": dep,
		"locations": locs,
	}
}

func hetznerRoutes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"/pricing": func(w http.ResponseWriter, r *http.Request) {
			var sts []map[string]any
			for _, ft := range fakeHetznerTypes {
				var prices []map[string]any
				for _, loc := range allLocs {
					if m, ok := ft.monthly[loc]; ok {
						prices = append(prices, hLocPrice(loc, m))
					}
				}
				sts = append(sts, map[string]any{"id": ft.id, "name": ft.name, "prices": prices})
			}
			var lbPrices, ipPrices []map[string]any
			for _, loc := range allLocs {
				lbPrices = append(lbPrices, hLocPrice(loc, "5.8900"))
				ipPrices = append(ipPrices, map[string]any{
					"location": loc, "price_hourly": hPrice("0.0010"), "price_monthly": hPrice("0.6000"),
				})
			}
			writeJSON(w, 200, map[string]any{"pricing": map[string]any{
				"currency": "EUR", "vat_rate": "19.00",
				"image":         map[string]any{"price_per_gb_month": hPrice("0.0119")},
				"server_backup": map[string]any{"percentage": "20.00"},
				"volume":        map[string]any{"price_per_gb_month": hPrice("0.0500")},
				"server_types":  sts,
				"load_balancer_types": []map[string]any{
					{"id": 1, "name": "lb11", "prices": lbPrices},
				},
				// The real API still lists floating IP prices next to primary IP
				// prices; hcloud-go v2.52.0 relies on it (see getPricing).
				"floating_ips": []map[string]any{
					{"type": "ipv4", "prices": []map[string]any{{"location": "fsn1", "price_monthly": hPrice("3.0000")}}},
					{"type": "ipv6", "prices": []map[string]any{{"location": "fsn1", "price_monthly": hPrice("1.0000")}}},
				},
				"primary_ips": []map[string]any{
					{"type": "ipv4", "prices": ipPrices},
					{"type": "ipv6", "prices": []map[string]any{}},
				},
			}})
		},
		// Two pages, so hcloud-go's pagination is exercised.
		"/server_types": func(w http.ResponseWriter, r *http.Request) {
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			if page < 1 {
				page = 1
			}
			half := len(fakeHetznerTypes) / 2
			part, next := fakeHetznerTypes[:half], 2
			if page == 2 {
				part, next = fakeHetznerTypes[half:], 0
			}
			var out []map[string]any
			for _, ft := range part {
				out = append(out, ft.schema())
			}
			var nextV any
			if next != 0 {
				nextV = next
			}
			writeJSON(w, 200, map[string]any{
				"server_types": out,
				"meta": map[string]any{"pagination": map[string]any{
					"page": page, "per_page": half, "previous_page": nil, "next_page": nextV,
					"last_page": 2, "total_entries": len(fakeHetznerTypes),
				}},
			})
		},
	}
}

func newFakeHetzner(t *testing.T) *fakeAPI { return newFake(t, fakeHcloudToken, hetznerRoutes()) }

// ---- DigitalOcean ----

type fakeSize struct {
	slug      string
	vcpus     int
	mem       int
	price     float64
	available bool
	regions   []string
}

var fakeDOSizes = []fakeSize{
	{"s-1vcpu-1gb", 1, 1024, 6, true, []string{"fra1", "nyc3", "ams3"}},
	{"s-1vcpu-2gb", 1, 2048, 12, true, []string{"fra1", "nyc3", "ams3"}},
	{"c-2", 2, 4096, 42, true, []string{"nyc3"}},
	// page 2
	{"s-2vcpu-4gb", 2, 4096, 26, true, []string{"fra1", "nyc3", "ams3"}}, // a price change vs the snapshot's 24
	{"s-4vcpu-8gb", 4, 8192, 48, true, []string{"fra1", "nyc3", "ams3"}},
	{"s-8vcpu-16gb", 8, 16384, 96, false, []string{}},
}

func doRoutes(base func() string) map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"/v2/sizes": func(w http.ResponseWriter, r *http.Request) {
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			if page < 1 {
				page = 1
			}
			part := fakeDOSizes[:3]
			pages := map[string]any{
				"next": fmt.Sprintf("%s/v2/sizes?page=2&per_page=200", base()),
				"last": fmt.Sprintf("%s/v2/sizes?page=2&per_page=200", base()),
			}
			if page == 2 {
				part = fakeDOSizes[3:]
				pages = map[string]any{
					"first": fmt.Sprintf("%s/v2/sizes?page=1&per_page=200", base()),
					"prev":  fmt.Sprintf("%s/v2/sizes?page=1&per_page=200", base()),
				}
			}
			var out []map[string]any
			for _, s := range part {
				out = append(out, map[string]any{
					"slug": s.slug, "memory": s.mem, "vcpus": s.vcpus, "disk": 50, "transfer": 2.0,
					"price_monthly": s.price, "price_hourly": s.price / 672, "regions": s.regions,
					"available": s.available, "description": "Basic",
				})
			}
			writeJSON(w, 200, map[string]any{
				"sizes": out, "links": map[string]any{"pages": pages},
				"meta": map[string]any{"total": len(fakeDOSizes)},
			})
		},
		"/v2/databases/options": func(w http.ResponseWriter, r *http.Request) {
			layouts := []map[string]any{
				{"num_nodes": 1, "sizes": []string{"db-s-1vcpu-1gb", "db-s-1vcpu-2gb", "db-s-2vcpu-4gb"}},
				{"num_nodes": 2, "sizes": []string{"db-s-1vcpu-2gb", "db-s-2vcpu-4gb"}},
			}
			eng := map[string]any{"regions": []string{"fra1", "nyc3", "ams3"}, "versions": []string{"16", "17"}, "layouts": layouts}
			writeJSON(w, 200, map[string]any{"options": map[string]any{"pg": eng, "valkey": eng}})
		},
	}
}

func newFakeDO(t *testing.T) *fakeAPI {
	var f *fakeAPI
	f = newFake(t, fakeDOToken, doRoutes(func() string { return f.URL }))
	return f
}

// downServer answers every request with the given status.
func downServer(t *testing.T, status int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, status, map[string]any{
			"error": map[string]any{"code": "service_error", "message": "maintenance"},
			"id":    "service_unavailable", "message": "maintenance",
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// closedURL is the URL of a server that no longer listens.
func closedURL(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return u
}

func testOpts(h, d string) []Option {
	opts := []Option{WithClock(testNow), WithHTTPClient(&http.Client{Timeout: 5 * time.Second})}
	if h != "" {
		opts = append(opts, WithHcloudEndpoint(h))
	}
	if d != "" {
		opts = append(opts, WithDigitalOceanBaseURL(d))
	}
	return opts
}
