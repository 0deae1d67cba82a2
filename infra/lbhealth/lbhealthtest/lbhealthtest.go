// Package lbhealthtest is a local stand-in for Hetzner Cloud's
// GET /load_balancers/{id}, answering the API's own JSON (not
// hcloud-go's types) so tests check the watcher against the wire format,
// with scripted health changes and faults.
package lbhealthtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Health values of a target's health_status.
const (
	Unknown   = "unknown"
	Healthy   = "healthy"
	Unhealthy = "unhealthy"
)

// LoadBalancer is one load balancer the API knows.
type LoadBalancer struct {
	ID       int64
	Services []Service
	// Servers are its server targets.
	Servers []int64
	// Steps script successive GETs of it; the last one repeats. None:
	// every target unknown on every service.
	Steps []Step
}

// Service sends ListenPort to the targets' DestinationPort.
type Service struct {
	ListenPort, DestinationPort int
}

// Step is the answer to one GET.
type Step struct {
	// HTTPStatus other than 0 answers with the API's error document and
	// this status instead of the load balancer.
	HTTPStatus int
	// Health is each server's status on every service; a server left
	// out is unknown.
	Health map[int64]string
}

// API answers GET /load_balancers/{id} for its load balancers to
// requests bearing Token, and counts them.
type API struct {
	Token string

	mu    sync.Mutex
	lbs   map[int64]*LoadBalancer
	gets  map[int64]int
	onGet func(id int64, n int)
}

// New returns an API for token with the given load balancers.
func New(token string, lbs ...LoadBalancer) *API {
	a := &API{Token: token, lbs: map[int64]*LoadBalancer{}, gets: map[int64]int{}}
	for _, lb := range lbs {
		a.lbs[lb.ID] = &lb
	}
	return a
}

// OnGet calls f with the load balancer's ID and the GET's number (from 1)
// before each answer: tests cancel a context from it.
func (a *API) OnGet(f func(id int64, n int)) { a.mu.Lock(); a.onGet = f; a.mu.Unlock() }

// Gets is how many times the load balancer was asked for.
func (a *API) Gets(id int64) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gets[id]
}

// ServeHTTP answers GET /load_balancers/{id}; anything else is the API's
// not_found.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+a.Token {
		writeError(w, http.StatusUnauthorized, "unauthorized", "unable to authenticate")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/load_balancers/")
	id, err := strconv.ParseInt(rest, 10, 64)
	if !ok || err != nil || r.Method != http.MethodGet {
		writeError(w, http.StatusNotFound, "not_found", "not found")
		return
	}
	a.mu.Lock()
	lb, known := a.lbs[id]
	a.gets[id]++
	n, onGet := a.gets[id], a.onGet
	a.mu.Unlock()
	if onGet != nil {
		onGet(id, n)
	}
	if !known {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("load_balancer with ID '%d' not found", id))
		return
	}
	step := Step{}
	if len(lb.Steps) > 0 {
		step = lb.Steps[min(n, len(lb.Steps))-1]
	}
	if step.HTTPStatus != 0 {
		writeError(w, step.HTTPStatus, "server_error", "internal server error")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"load_balancer": document(lb, step)})
}

// document is the load balancer as the API describes it.
func document(lb *LoadBalancer, step Step) map[string]any {
	services := []any{}
	for _, s := range lb.Services {
		services = append(services, map[string]any{
			"protocol":         "http",
			"listen_port":      s.ListenPort,
			"destination_port": s.DestinationPort,
			"proxyprotocol":    false,
			"health_check": map[string]any{
				"protocol": "http", "port": s.DestinationPort, "interval": 10, "timeout": 5, "retries": 3,
				"http": map[string]any{"domain": nil, "path": "/readyz", "response": nil, "status_codes": []string{"2??"}, "tls": false},
			},
			"http": map[string]any{
				"cookie_name": "HCLBSTICKY", "cookie_lifetime": 300, "certificates": []int64{},
				"redirect_http": false, "sticky_sessions": false, "timeout_idle": 60,
			},
		})
	}
	targets := []any{}
	for _, id := range lb.Servers {
		status := step.Health[id]
		if status == "" {
			status = Unknown
		}
		health := []any{}
		for _, s := range lb.Services {
			h := map[string]any{"listen_port": s.ListenPort, "status": status}
			if status == Unhealthy {
				h["detail"], h["http_status_code"] = "unexpected_http_status", 503
			}
			health = append(health, h)
		}
		targets = append(targets, map[string]any{
			"type":           "server",
			"server":         map[string]any{"id": id},
			"health_status":  health,
			"use_private_ip": true,
		})
	}
	return map[string]any{
		"id":   lb.ID,
		"name": fmt.Sprintf("lb-%d", lb.ID),
		"public_net": map[string]any{
			"enabled": true,
			"ipv4":    map[string]any{"ip": "203.0.113.10", "dns_ptr": "static.10.113.0.203.clients.your-server.de"},
			"ipv6":    map[string]any{"ip": "2001:db8::1", "dns_ptr": "static.clients.your-server.de"},
		},
		"private_net": []any{map[string]any{"network": 4711, "ip": "10.42.255.254"}},
		"location": map[string]any{
			"id": 1, "name": "fsn1", "description": "Falkenstein DC Park 1", "country": "DE", "city": "Falkenstein",
			"latitude": 50.47612, "longitude": 12.370071, "network_zone": "eu-central",
		},
		"load_balancer_type": map[string]any{
			"id": 1, "name": "lb11", "description": "LB11", "max_connections": 20000, "max_services": 5,
			"max_targets": 25, "max_assigned_certificates": 10, "deprecated": nil, "prices": []any{},
		},
		"protection":       map[string]any{"delete": false},
		"labels":           map[string]string{},
		"created":          "2026-12-01T10:00:00+00:00",
		"services":         services,
		"targets":          targets,
		"algorithm":        map[string]any{"type": "round_robin"},
		"outgoing_traffic": 0,
		"ingoing_traffic":  0,
		"included_traffic": 21990232555520,
	}
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": message, "details": nil}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
