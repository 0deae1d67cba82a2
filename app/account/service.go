// Package account is what Flavor Monk does with accounts: sign-up,
// log-in and sessions (read through the shared cache), API tokens,
// favourites, password changes, deletion and export, licence unlocks and
// the admin's invites and grants. Its methods take plain values and return
// domain values and *flavormonk.Error with stable codes; the web package
// turns those into pages, cookies and statuses.
package account

import (
	"context"
	"log/slog"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/auth"
	"github.com/flavormonk/flavormonk/app/gumroad"
	"github.com/flavormonk/flavormonk/app/limit"
)

const (
	// SessionAbsolute is how long a session lives at most.
	SessionAbsolute = 30 * 24 * time.Hour
	// SessionIdle ends a session unseen for longer.
	SessionIdle = 7 * 24 * time.Hour
	// SignupsPerHour is the sign-up limit per client network.
	SignupsPerHour = 10

	maxNoteLen   = 2000
	maxTokenName = 100
)

// Visitors starts anonymous visitor sessions (the app store does).
type Visitors interface {
	CreateVisitor(ctx context.Context) (*flavormonk.Visitor, error)
}

// Recipes looks up the recipes favourites name (the app store does).
type Recipes interface {
	Recipe(ctx context.Context, id string) (*flavormonk.Recipe, error)
}

// Options are what New needs.
type Options struct {
	Store    flavormonk.AccountStore
	Visitors Visitors
	// Recipes names the favourites on the account page; nil shows their
	// recipe ids.
	Recipes Recipes
	// SessionCache is the cache sessions are read through: Redis, shared
	// by the replicas. Nil reads the store alone; never give it an
	// in-process cache, which would keep logged-out sessions alive on
	// other replicas.
	SessionCache flavormonk.Cache
	// Fallback, when set, is told each time the session cache failed and
	// the store answered instead.
	Fallback func(err error)
	Clock    flavormonk.Clock
	Log      *slog.Logger
	// Hasher hashes passwords; nil is auth.DefaultParams with two
	// hashes at a time.
	Hasher *auth.Hasher
	// Login throttles log-ins and password checks; Signups limits
	// sign-ups per client network.
	Login   *limit.Login
	Signups *limit.Signups
	// InviteOnly refuses sign-ups without an invite code.
	InviteOnly bool
	// Gumroad verifies licence keys; nil turns licences off.
	Gumroad *gumroad.Client
	// Plan is what a valid licence unlocks.
	Plan string
	// Rechecker seals keys for its re-checks; nil when re-checks are off.
	Rechecker *gumroad.Rechecker
}

// Service does what accounts do.
type Service struct {
	store     flavormonk.AccountStore
	visitors  Visitors
	recipes   Recipes
	cache     flavormonk.Cache
	fallback  func(error)
	now       flavormonk.Clock
	log       *slog.Logger
	hasher    *auth.Hasher
	login     *limit.Login
	signups   *limit.Signups
	invites   bool
	gumroad   *gumroad.Client
	plan      string
	rechecker *gumroad.Rechecker
}

// New returns the Service opts describe. Nil limits count in this
// process only, with the default limits.
func New(opts Options) *Service {
	s := &Service{store: opts.Store, visitors: opts.Visitors, recipes: opts.Recipes, cache: opts.SessionCache, fallback: opts.Fallback,
		now: opts.Clock, log: opts.Log, hasher: opts.Hasher, login: opts.Login, signups: opts.Signups,
		invites: opts.InviteOnly, gumroad: opts.Gumroad, plan: opts.Plan, rechecker: opts.Rechecker}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.hasher == nil {
		s.hasher = auth.NewHasher(auth.DefaultParams, 2)
	}
	if s.login == nil {
		s.login = limit.NewLogin(limit.NewThrottle(limit.DefaultLimits, s.now), limit.NewCounter(nil, nil))
	}
	if s.signups == nil {
		s.signups = limit.NewSignups(SignupsPerHour, time.Hour, s.now, limit.NewCounter(nil, nil))
	}
	return s
}

// InviteOnly says whether sign-up needs an invite.
func (s *Service) InviteOnly() bool { return s.invites }

// Licenses says whether licence keys can be unlocked (a Gumroad product
// is configured).
func (s *Service) Licenses() bool { return s.gumroad != nil }

// Plan is the plan a licence unlocks.
func (s *Service) Plan() string { return s.plan }
