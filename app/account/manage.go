package account

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/auth"
	"github.com/flavormonk/flavormonk/app/gumroad"
	"github.com/flavormonk/flavormonk/app/limit"
)

// checkPassword verifies the logged-in user's password, throttled like
// log-in so a stolen session cannot guess it; a wrong one is an EINVALID
// error on field.
func (s *Service) checkPassword(ctx context.Context, u *flavormonk.User, field, pw, ip string) error {
	if err := s.login.Take(ctx, u.Email, ip); err != nil {
		return err
	}
	wrong := flavormonk.FieldErrorf(flavormonk.EINVALID, field, "the current password is wrong")
	if pw == "" || len(pw) > 4*auth.MaxPasswordLen || !utf8.ValidString(pw) {
		return wrong
	}
	ok, _, err := s.hasher.Verify(ctx, pw, u.PasswordHash)
	if err != nil && !errors.Is(err, auth.ErrMalformedHash) {
		return err // busy
	}
	if err != nil || !ok {
		return wrong
	}
	s.login.Succeed(ctx, u.Email, ip)
	return nil
}

// ChangePassword sets u's new password once the current one is confirmed
// (field current_password), logs out every other session of the user
// (the current one, ss, stays) and revokes their API tokens, whose number
// it returns. u's hash is updated.
func (s *Service) ChangePassword(ctx context.Context, u *flavormonk.User, ss *flavormonk.Session, current, next, ip string) (revoked int, err error) {
	if err := s.checkPassword(ctx, u, "current_password", current, ip); err != nil {
		return 0, err
	}
	if err := auth.CheckPassword(next); err != nil {
		return 0, err
	}
	h, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return 0, err
	}
	if err := s.store.SetPasswordHash(ctx, u.ID, h); err != nil {
		return 0, err
	}
	u.PasswordHash = h
	hashes, err := s.userSessionHashes(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	if err := s.store.DeleteUserSessions(ctx, u.ID); err != nil {
		return 0, err
	}
	// The current session is stored again at once: its cached copy stays
	// (a tombstone would log it out).
	s.forgetSessions(ctx, slices.DeleteFunc(hashes, func(h string) bool { return h == ss.TokenHash })...)
	keep := *ss
	if err := s.store.CreateSession(ctx, &keep); err != nil {
		return 0, err
	}
	// Whoever had the old password may have made API tokens: they go too.
	toks, err := s.store.APITokens(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	for _, t := range toks {
		if t.RevokedAt == nil {
			if err := s.store.RevokeAPIToken(ctx, u.ID, t.ID); err != nil {
				return revoked, err
			}
			revoked++
		}
	}
	return revoked, nil
}

// Delete removes u and all their data once the password is confirmed
// (field password), and ends their sessions.
func (s *Service) Delete(ctx context.Context, u *flavormonk.User, password, ip string) error {
	if err := s.checkPassword(ctx, u, "password", password, ip); err != nil {
		return err
	}
	hashes, err := s.userSessionHashes(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := s.store.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	s.forgetSessions(ctx, hashes...)
	return nil
}

// Export is the download of a user's data. The types' JSON tags leave out
// password, token and licence key hashes.
type Export struct {
	ExportedAt time.Time               `json:"exported_at"`
	User       *flavormonk.User        `json:"user"`
	Favourites []*flavormonk.Favourite `json:"favourites"`
	APITokens  []*flavormonk.APIToken  `json:"api_tokens"`
	Grants     []*flavormonk.Grant     `json:"grants"`
	Visitors   []string                `json:"visitor_sessions"` // anonymous sessions linked to the account, by VisitorRef
}

// VisitorRef names a visitor session without its id, which is the live
// fm_visitor cookie value: a file that is downloaded, mailed or shared
// must not let its reader browse as the user.
func VisitorRef(id string) string { return "sha256:" + limit.HashKey(id) }

// Export gathers u's data.
func (s *Service) Export(ctx context.Context, u *flavormonk.User) (*Export, error) {
	x := &Export{ExportedAt: s.now.Now().UTC(), User: u,
		Favourites: []*flavormonk.Favourite{}, APITokens: []*flavormonk.APIToken{}, Grants: []*flavormonk.Grant{}}
	favs, toks, grants, err := s.overview(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	x.Favourites = append(x.Favourites, favs...)
	x.APITokens = append(x.APITokens, toks...)
	x.Grants = append(x.Grants, grants...)
	vs, err := s.store.UserVisitors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	x.Visitors = make([]string, len(vs))
	for i, v := range vs {
		x.Visitors[i] = VisitorRef(v)
	}
	return x, nil
}

// NamedFavourite is a favourite with its recipe's name, or its recipe id
// when the recipe cannot be read (gone from the collection).
type NamedFavourite struct {
	*flavormonk.Favourite
	Name string
}

// Overview is what the account page lists: the user's favourites by name,
// API tokens and grants.
func (s *Service) Overview(ctx context.Context, userID int64) ([]NamedFavourite, []*flavormonk.APIToken, []*flavormonk.Grant, error) {
	fs, toks, grants, err := s.overview(ctx, userID)
	if err != nil {
		return nil, nil, nil, err
	}
	favs := make([]NamedFavourite, len(fs))
	for i, f := range fs {
		favs[i] = NamedFavourite{Favourite: f, Name: f.RecipeID}
		if s.recipes == nil {
			continue
		}
		if r, err := s.recipes.Recipe(ctx, f.RecipeID); err == nil {
			favs[i].Name = r.Name
		}
	}
	return favs, toks, grants, nil
}

// overview is the user's favourites, API tokens and grants.
func (s *Service) overview(ctx context.Context, userID int64) ([]*flavormonk.Favourite, []*flavormonk.APIToken, []*flavormonk.Grant, error) {
	favs, err := s.store.Favourites(ctx, userID)
	if err != nil {
		return nil, nil, nil, err
	}
	toks, err := s.store.APITokens(ctx, userID)
	if err != nil {
		return nil, nil, nil, err
	}
	grants, err := s.store.Grants(ctx, userID)
	if err != nil {
		return nil, nil, nil, err
	}
	return favs, toks, grants, nil
}

// CheckTokenName refuses an API token name that is empty, too long or not
// text.
func CheckTokenName(name string) error {
	if name == "" || len(name) > maxTokenName || !utf8.ValidString(name) {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "name", "give the token a name of 1 to %d characters", maxTokenName)
	}
	return nil
}

// CreateToken makes an API token for the user and returns it: the only
// time it is shown.
func (s *Service) CreateToken(ctx context.Context, userID int64, name string, scopes []string) (string, error) {
	if err := CheckTokenName(name); err != nil {
		return "", err
	}
	var uniq []string
	for _, sc := range scopes {
		if sc != flavormonk.ScopeRead && sc != flavormonk.ScopeAsk {
			return "", flavormonk.FieldErrorf(flavormonk.EINVALID, "scope", "unknown scope %q; allowed: read, ask", sc)
		}
		if !slices.Contains(uniq, sc) {
			uniq = append(uniq, sc)
		}
	}
	if len(uniq) == 0 {
		return "", flavormonk.FieldErrorf(flavormonk.EINVALID, "scope", "choose at least one scope")
	}
	tok, hash := auth.NewToken(auth.APITokenPrefix)
	t := &flavormonk.APIToken{UserID: userID, Name: name, Hash: hash, Prefix: tok[:len(auth.APITokenPrefix)+6], Scopes: uniq}
	if err := s.store.CreateAPIToken(ctx, t); err != nil {
		return "", err
	}
	return tok, nil
}

// RevokeToken revokes one of the user's API tokens.
func (s *Service) RevokeToken(ctx context.Context, userID, id int64) error {
	return s.store.RevokeAPIToken(ctx, userID, id)
}

// Favourites lists the user's favourites.
func (s *Service) Favourites(ctx context.Context, userID int64) ([]*flavormonk.Favourite, error) {
	return s.store.Favourites(ctx, userID)
}

// Favourite returns the user's favourite of the recipe, nil when it is
// not one.
func (s *Service) Favourite(ctx context.Context, userID int64, recipeID string) (*flavormonk.Favourite, error) {
	favs, err := s.store.Favourites(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, f := range favs {
		if f.RecipeID == recipeID {
			return f, nil
		}
	}
	return nil, nil
}

// ToggleFavourite adds the recipe to the user's favourites, or removes it
// when it is one.
func (s *Service) ToggleFavourite(ctx context.Context, userID int64, recipeID string) error {
	if len(recipeID) > 200 || !utf8.ValidString(recipeID) {
		return flavormonk.Errorf(flavormonk.ENOTFOUND, "no such recipe")
	}
	f, err := s.Favourite(ctx, userID, recipeID)
	if err != nil {
		return err
	}
	if f != nil {
		return s.store.DeleteFavourite(ctx, userID, recipeID)
	}
	return s.store.SetFavourite(ctx, userID, recipeID, "")
}

// CheckNote refuses a favourite's note that is not text or too long.
func CheckNote(note string) error {
	if !utf8.ValidString(note) || utf8.RuneCountInString(note) > maxNoteLen {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "note", "must be valid text of at most %d characters", maxNoteLen)
	}
	return nil
}

// SetFavourite adds or updates a favourite with its note and returns it
// (nil if it is gone again already, or could not be read back).
func (s *Service) SetFavourite(ctx context.Context, userID int64, recipeID, note string) (*flavormonk.Favourite, error) {
	if err := CheckNote(note); err != nil {
		return nil, err
	}
	if err := s.store.SetFavourite(ctx, userID, recipeID, note); err != nil {
		return nil, err
	}
	// The note is stored: a failed read-back answers without it.
	f, err := s.Favourite(ctx, userID, recipeID)
	if err != nil {
		return nil, nil
	}
	return f, nil
}

// DeleteFavourite removes a favourite.
func (s *Service) DeleteFavourite(ctx context.Context, userID int64, recipeID string) error {
	return s.store.DeleteFavourite(ctx, userID, recipeID)
}

// UnlockLicense verifies a Gumroad licence key and records the grant; an
// active licence unlocks the licence plan, which u then holds. A key
// Gumroad refuses is EINVALID on field license_key; Gumroad being down is
// EUNAVAILABLE.
func (s *Service) UnlockLicense(ctx context.Context, u *flavormonk.User, rawKey string) error {
	if s.gumroad == nil {
		return flavormonk.Errorf(flavormonk.ENOTFOUND, "licences are off")
	}
	key, err := gumroad.CheckKey(rawKey)
	if err != nil {
		return err
	}
	lic, err := s.gumroad.Verify(ctx, key)
	if err != nil {
		if flavormonk.ErrorCode(err) == flavormonk.EINVALID {
			err = flavormonk.FieldErrorf(flavormonk.EINVALID, "license_key", "the licence key is not valid for this product; check it against your Gumroad receipt")
		} else if flavormonk.ErrorCode(err) == flavormonk.EUNAVAILABLE {
			s.log.WarnContext(ctx, "licence verification failed", "err", err)
		}
		return err
	}
	g := &flavormonk.Grant{UserID: u.ID, Plan: s.plan, Source: "gumroad", LicenseKey: gumroad.KeyHash(key),
		Active: lic.Active(), CheckedAt: s.now.Now().UTC()}
	if s.rechecker != nil {
		g.Sealed = s.rechecker.Seal(key)
	}
	if err := s.store.SetGrant(ctx, g); err != nil {
		return err
	}
	if !g.Active {
		return flavormonk.FieldErrorf(flavormonk.EFORBIDDEN, "license_key",
			"this licence is no longer active (refunded, disputed, charged back or cancelled), so it cannot unlock the %s plan", s.plan)
	}
	if err := s.store.SetPlan(ctx, u.ID, s.plan); err != nil {
		return err
	}
	u.Plan = s.plan
	return nil
}

// UsersPerPage is how many users one page of the admin's list holds.
const UsersPerPage = 50

// Users is one page of the admin's user list: users by id after the id
// after, and the id the next page starts after (0 on the last page).
func (s *Service) Users(ctx context.Context, after int64) (users []*flavormonk.User, next int64, err error) {
	us, err := s.store.Users(ctx, after, UsersPerPage+1)
	if err != nil {
		return nil, 0, err
	}
	if len(us) > UsersPerPage {
		us = us[:UsersPerPage]
		next = us[len(us)-1].ID
	}
	return us, next, nil
}

// CreateInvite makes an invite code on behalf of the admin by and returns
// it.
func (s *Service) CreateInvite(ctx context.Context, by int64) (string, error) {
	code, hash := auth.NewToken("inv_")
	if err := s.store.CreateInvite(ctx, hash, by); err != nil {
		return "", err
	}
	return code, nil
}

// Grant gives the user with the (normalised) email a plan, as `flavormonk
// users grant` does, and returns the user.
func (s *Service) Grant(ctx context.Context, email, plan string) (*flavormonk.User, error) {
	plan = strings.ToLower(strings.TrimSpace(plan))
	if plan != flavormonk.PlanFree && plan != flavormonk.PlanChef {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "plan",
			"unknown plan; allowed: %s, %s", flavormonk.PlanFree, flavormonk.PlanChef)
	}
	u, err := s.store.UserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	if err := s.store.SetGrant(ctx, &flavormonk.Grant{UserID: u.ID, Plan: plan, Source: "admin", Active: true}); err != nil {
		return nil, err
	}
	if err := s.store.SetPlan(ctx, u.ID, plan); err != nil {
		return nil, err
	}
	u.Plan = plan
	return u, nil
}
