package account

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/limit"
	"github.com/flavormonk/flavormonk/app/sqlite"
)

const pw = "correct horse battery"

func newService(t *testing.T, opts Options) (*Service, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "fm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opts.Store, opts.Visitors = st, st
	return New(opts), st
}

// A failed sign-up says what the form may show again: the email once
// normalised, never the password.
func TestSignUpShown(t *testing.T) {
	s, _ := newService(t, Options{})
	ctx := context.Background()
	_, shown, err := s.SignUp(ctx, Signup{Email: "not an address", Password: pw, IP: "192.0.2.1"})
	if flavormonk.ErrorCode(err) != flavormonk.EINVALID || shown != (Signup{}) {
		t.Fatalf("bad email: %v %+v", err, shown)
	}
	_, shown, err = s.SignUp(ctx, Signup{Email: " Cook@Example.com ", Password: "short", Invite: "x", IP: "192.0.2.1"})
	if flavormonk.ErrorCode(err) != flavormonk.EINVALID || shown != (Signup{Email: "cook@example.com"}) {
		t.Fatalf("bad password: %v %+v", err, shown)
	}
	u, _, err := s.SignUp(ctx, Signup{Email: "cook@example.com", Password: pw, IP: "192.0.2.1"})
	if err != nil || u.ID == 0 || u.Plan != flavormonk.PlanFree || u.Role != flavormonk.RoleCustomer {
		t.Fatalf("sign-up: %+v %v", u, err)
	}
	_, shown, err = s.SignUp(ctx, Signup{Email: "cook@example.com", Password: pw, IP: "192.0.2.1"})
	if flavormonk.ErrorCode(err) != flavormonk.ECONFLICT || shown.Email != "cook@example.com" {
		t.Fatalf("taken: %v %+v", err, shown)
	}
}

func TestSignUpInviteOnly(t *testing.T) {
	s, _ := newService(t, Options{InviteOnly: true})
	_, _, err := s.SignUp(context.Background(), Signup{Email: "cook@example.com", Password: pw, IP: "192.0.2.1"})
	var e *flavormonk.Error
	if !errors.As(err, &e) || e.Field != "invite" {
		t.Fatalf("no invite: %v", err)
	}
}

// Log-ins are throttled per account and network; a success clears the
// account's count.
func TestLogInThrottled(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := func() time.Time { return now }
	s, _ := newService(t, Options{Clock: clk,
		Login: limit.NewLogin(limit.NewThrottle(limit.DefaultLimits, clk), limit.NewCounter(nil, nil))})
	ctx := context.Background()
	if _, _, err := s.SignUp(ctx, Signup{Email: "cook@example.com", Password: pw, IP: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := s.LogIn(ctx, "cook@example.com", "wrong password!", "198.51.100.1"); flavormonk.ErrorCode(err) != flavormonk.EUNAUTHORIZED {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	_, err := s.LogIn(ctx, "cook@example.com", pw, "198.51.100.1")
	var rl *limit.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 15*time.Minute {
		t.Fatalf("6th attempt: %v, want a retry in 15m", err)
	}
	if u, err := s.LogIn(ctx, "Cook@example.com", pw, "203.0.113.1"); err != nil || u.Email != "cook@example.com" {
		t.Fatalf("the owner from another network: %v", err)
	}
}

// A password change keeps the session that made it, ends the others and
// revokes the API tokens.
func TestChangePassword(t *testing.T) {
	s, st := newService(t, Options{})
	ctx := context.Background()
	u, _, err := s.SignUp(ctx, Signup{Email: "cook@example.com", Password: pw, IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	mine, _, err := s.StartSession(ctx, u, "")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := s.StartSession(ctx, u, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateToken(ctx, u.ID, "script", []string{flavormonk.ScopeRead}); err != nil {
		t.Fatal(err)
	}
	_, ss, err := s.Authenticate(ctx, mine)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangePassword(ctx, u, ss, "wrong password!", "a brand new passphrase", "192.0.2.1"); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Fatalf("wrong current password: %v", err)
	}
	revoked, err := s.ChangePassword(ctx, u, ss, pw, "a brand new passphrase", "192.0.2.1")
	if err != nil || revoked != 1 {
		t.Fatalf("change: %d %v", revoked, err)
	}
	if _, _, err := s.Authenticate(ctx, mine); err != nil {
		t.Fatalf("the current session ended: %v", err)
	}
	if _, _, err := s.Authenticate(ctx, other); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
		t.Fatalf("another session survived: %v", err)
	}
	if _, err := s.LogIn(ctx, "cook@example.com", "a brand new passphrase", "192.0.2.1"); err != nil {
		t.Fatalf("log-in with the new password: %v", err)
	}
	toks, _ := st.APITokens(ctx, u.ID)
	if len(toks) != 1 || toks[0].RevokedAt == nil {
		t.Fatalf("tokens after the change: %+v", toks)
	}
}

// The admin's list comes a page at a time; next is where the following
// page starts, 0 on the last.
func TestUsersPages(t *testing.T) {
	s, st := newService(t, Options{})
	ctx := context.Background()
	for i := range UsersPerPage + 3 {
		if err := st.CreateUser(ctx, &flavormonk.User{Email: fmt.Sprintf("cook%d@example.com", i), PasswordHash: "x"}, ""); err != nil {
			t.Fatal(err)
		}
	}
	us, next, err := s.Users(ctx, 0)
	if err != nil || len(us) != UsersPerPage || next != us[len(us)-1].ID {
		t.Fatalf("first page: %d users, next %d, %v", len(us), next, err)
	}
	us, next, err = s.Users(ctx, next)
	if err != nil || len(us) != 3 || next != 0 || us[0].Email != fmt.Sprintf("cook%d@example.com", UsersPerPage) {
		t.Fatalf("last page: %d users, next %d, %v", len(us), next, err)
	}
}

// The account page names favourites by their recipes; one whose recipe is
// gone keeps its id.
func TestOverviewNamesFavourites(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t, Options{})
	s.recipes = st
	r := &flavormonk.Recipe{ID: "red-lentil-dal", Name: "Red lentil dal", Ingredients: []flavormonk.Ingredient{{Text: "lentils"}},
		Steps: []flavormonk.Step{{Text: "Cook."}}}
	if _, err := st.UpsertRecipes(ctx, []*flavormonk.Recipe{r}); err != nil {
		t.Fatal(err)
	}
	u := &flavormonk.User{Email: "cook@example.com", PasswordHash: "x"}
	if err := st.CreateUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	if err := st.SetFavourite(ctx, u.ID, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	favs, _, _, err := s.Overview(ctx, u.ID)
	if err != nil || len(favs) != 1 || favs[0].Name != "Red lentil dal" || favs[0].RecipeID != r.ID {
		t.Fatalf("overview: %+v, %v", favs, err)
	}
	s.recipes = nil
	if favs, _, _, _ := s.Overview(ctx, u.ID); favs[0].Name != r.ID {
		t.Errorf("without recipes the favourite is named %q, want its id", favs[0].Name)
	}
}
