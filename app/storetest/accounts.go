// The account half of the conformance suite: long because it is a list of
// independent cases (see the package comment).

package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/clocktest"
)

// AccountsStore is a store with accounts, as RunAccounts tests it.
type AccountsStore = interface {
	flavormonk.Store
	flavormonk.AccountStore
}

// RunAccounts runs the flavormonk.AccountStore conformance suite. open must
// return a new, empty store on clk for each call; RunAccounts closes it
// when the subtest ends.
//
// Semantics the suite pins down, beyond the AccountStore documentation:
//   - Emails are stored trimmed and lower-cased; the duplicate check ignores
//     case and holds under concurrent CreateUser calls.
//   - Role defaults to customer and Plan to free; unknown ones are EINVALID.
//   - An invite is consumed once; a failed CreateUser leaves it unused.
//   - Session and APIToken return what is stored (expired sessions and
//     revoked tokens included); the caller checks expiry and revocation.
//   - RevokeAPIToken of another user's token is ENOTFOUND and leaves it.
//   - Notes over 2000 bytes are EINVALID; an unknown recipe is ENOTFOUND.
//   - Lists are newest first and never nil.
//   - A licence key (source, key hash) belongs to one user: SetGrant for
//     another user is ECONFLICT; a sealed key survives updates without one.
//   - A visitor session links to one user; deleting the user deletes it.
func RunAccounts(t *testing.T, open func(t *testing.T, clk flavormonk.Clock) interface {
	flavormonk.Store
	flavormonk.AccountStore
}) {
	o := func(t *testing.T, clk flavormonk.Clock) AccountsStore {
		t.Helper()
		s := open(t, clk)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s AccountsStore, clk *clocktest.Clock)
	}{
		{"CreateUser", testCreateUser},
		{"CreateUserInvalid", testCreateUserInvalid},
		{"DuplicateEmail", testDuplicateEmail},
		{"ConcurrentSameEmail", testConcurrentSameEmail},
		{"UserNotFound", testUserNotFound},
		{"SetUserFields", testSetUserFields},
		{"Invites", testInvites},
		{"InviteNotConsumedOnConflict", testInviteNotConsumedOnConflict},
		{"ConcurrentInvite", testConcurrentInvite},
		{"Sessions", testSessions},
		{"APITokens", testAPITokens},
		{"RevokeOtherUsersToken", testRevokeOtherUsersToken},
		{"Favourites", testFavourites},
		{"Grants", testGrants},
		{"DeleteUserCascades", testDeleteUserCascades},
		{"LicenseKeyOnce", testLicenseKeyOnce},
		{"LicenseGrants", testLicenseGrants},
		{"SessionHashes", testSessionHashes},
		{"SessionBoundaries", testSessionBoundaries},
		{"LinkVisitor", testLinkVisitor},
		{"ListUsers", testListUsers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(Start)
			tc.fn(t, o(t, clk.Now), clk)
		})
	}
}

func newUser(t *testing.T, s AccountsStore, email string) *flavormonk.User {
	t.Helper()
	u := &flavormonk.User{Email: email, PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA"}
	if err := s.CreateUser(ctxT(t), u, ""); err != nil {
		t.Fatalf("CreateUser(%q): %v", email, err)
	}
	return u
}

func sameTime(a, b time.Time) bool {
	return a.Equal(b) && a.Location() == time.UTC && b.Location() == time.UTC
}

func testCreateUser(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	before := clk.Now()
	u := newUser(t, s, "  Ada@Example.COM ")
	if u.ID <= 0 || u.Email != "ada@example.com" || u.Role != flavormonk.RoleCustomer || u.Plan != flavormonk.PlanFree {
		t.Fatalf("created user = %+v", u)
	}
	if u.CreatedAt.Before(before) || !u.CreatedAt.Equal(u.UpdatedAt) || u.CreatedAt.Location() != time.UTC {
		t.Fatalf("created user timestamps = %v, %v (before %v)", u.CreatedAt, u.UpdatedAt, before)
	}
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	if got.ID != u.ID || got.Email != u.Email || got.PasswordHash != u.PasswordHash || got.Role != u.Role ||
		got.Plan != u.Plan || !sameTime(got.CreatedAt, u.CreatedAt) || !sameTime(got.UpdatedAt, u.UpdatedAt) {
		t.Fatalf("User = %+v, want %+v", got, u)
	}
	for _, e := range []string{"ada@example.com", "ADA@example.com", " ada@EXAMPLE.com\t"} {
		got, err := s.UserByEmail(ctx, e)
		if err != nil || got.ID != u.ID {
			t.Fatalf("UserByEmail(%q) = %+v, %v", e, got, err)
		}
	}
	admin := &flavormonk.User{Email: "root@example.com", PasswordHash: "h", Role: flavormonk.RoleAdmin, Plan: flavormonk.PlanChef}
	if err := s.CreateUser(ctx, admin, ""); err != nil {
		t.Fatal(err)
	}
	if admin.ID <= u.ID {
		t.Fatalf("second user id %d, first %d: ids must increase", admin.ID, u.ID)
	}
	if got, err := s.User(ctx, admin.ID); err != nil || got.Role != flavormonk.RoleAdmin || got.Plan != flavormonk.PlanChef {
		t.Fatalf("admin = %+v, %v", got, err)
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 2 {
		t.Fatalf("CountUsers = %d, %v; want 2", n, err)
	}
}

func testCreateUserInvalid(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	wantCode(t, "CreateUser(nil)", s.CreateUser(ctx, nil, ""), flavormonk.EINVALID)
	for _, u := range []*flavormonk.User{
		{Email: ""},
		{Email: "   "},
		{Email: "no-at-sign"},
		{Email: "a@b.c", Role: "wizard"},
		{Email: "a@b.c", Plan: "platinum"},
		{Email: "a\x00@b.c"},
		{Email: strings.Repeat("a", 300) + "@b.c"},
	} {
		wantCode(t, fmt.Sprintf("CreateUser(%+v)", u), s.CreateUser(ctx, u, ""), flavormonk.EINVALID)
		if u.ID != 0 {
			t.Fatalf("a rejected user got id %d", u.ID)
		}
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("CountUsers = %d, %v; want 0", n, err)
	}
}

func testDuplicateEmail(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	first := newUser(t, s, "cook@example.com")
	for _, e := range []string{"cook@example.com", "COOK@Example.com", "  cook@example.com  "} {
		u := &flavormonk.User{Email: e, PasswordHash: "x"}
		err := s.CreateUser(ctx, u, "")
		wantCode(t, fmt.Sprintf("CreateUser(%q) after cook@example.com", e), err, flavormonk.ECONFLICT)
		if !strings.Contains(flavormonk.ErrorMessage(err), "an account with this email exists") {
			t.Fatalf("duplicate email message = %q", flavormonk.ErrorMessage(err))
		}
		if u.ID != 0 {
			t.Fatalf("rejected duplicate got id %d", u.ID)
		}
	}
	if n, _ := s.CountUsers(ctx); n != 1 {
		t.Fatalf("CountUsers = %d, want 1", n)
	}
	if got, err := s.UserByEmail(ctx, "Cook@example.com"); err != nil || got.ID != first.ID {
		t.Fatalf("UserByEmail = %+v, %v", got, err)
	}
}

func testConcurrentSameEmail(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	for round := range 5 {
		const n = 2
		email := fmt.Sprintf("Race%d@Example.com", round)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				e := email
				if i == 1 {
					e = strings.ToLower(email)
				}
				errs[i] = s.CreateUser(ctx, &flavormonk.User{Email: e, PasswordHash: "x"}, "")
			}()
		}
		close(start)
		wg.Wait()
		ok, conflict := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case flavormonk.ErrorCode(err) == flavormonk.ECONFLICT:
				conflict++
			default:
				t.Fatalf("concurrent CreateUser: %v", err)
			}
		}
		if ok != 1 || conflict != 1 {
			t.Fatalf("round %d: %d succeeded and %d conflicted, want 1 and 1", round, ok, conflict)
		}
	}
	if c, _ := s.CountUsers(ctx); c != 5 {
		t.Fatalf("CountUsers = %d, want 5", c)
	}
}

func testUserNotFound(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	u, err := s.User(ctx, 12345)
	wantCode(t, "User(unknown)", err, flavormonk.ENOTFOUND)
	if u != nil {
		t.Fatal("User(unknown) returned a user with its error")
	}
	u, err = s.UserByEmail(ctx, "nobody@example.com")
	wantCode(t, "UserByEmail(unknown)", err, flavormonk.ENOTFOUND)
	if u != nil {
		t.Fatal("UserByEmail(unknown) returned a user with its error")
	}
	wantCode(t, "SetPasswordHash(unknown)", s.SetPasswordHash(ctx, 12345, "h"), flavormonk.ENOTFOUND)
	wantCode(t, "SetRole(unknown)", s.SetRole(ctx, 12345, flavormonk.RoleAdmin), flavormonk.ENOTFOUND)
	wantCode(t, "SetPlan(unknown)", s.SetPlan(ctx, 12345, flavormonk.PlanChef), flavormonk.ENOTFOUND)
	wantCode(t, "DeleteUser(unknown)", s.DeleteUser(ctx, 12345), flavormonk.ENOTFOUND)
}

func testSetUserFields(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	u := newUser(t, s, "edit@example.com")
	other := newUser(t, s, "other@example.com")
	clk.Add(2 * time.Millisecond)
	if err := s.SetPasswordHash(ctx, u.ID, "new-hash"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRole(ctx, u.ID, flavormonk.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPlan(ctx, u.ID, flavormonk.PlanChef); err != nil {
		t.Fatal(err)
	}
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "new-hash" || got.Role != flavormonk.RoleAdmin || got.Plan != flavormonk.PlanChef {
		t.Fatalf("after Set*: %+v", got)
	}
	if !got.CreatedAt.Equal(u.CreatedAt) || !got.UpdatedAt.After(u.UpdatedAt) {
		t.Fatalf("after Set*: created %v updated %v; was %v, %v", got.CreatedAt, got.UpdatedAt, u.CreatedAt, u.UpdatedAt)
	}
	wantCode(t, "SetRole(bad)", s.SetRole(ctx, u.ID, "root"), flavormonk.EINVALID)
	wantCode(t, "SetPlan(bad)", s.SetPlan(ctx, u.ID, "gold"), flavormonk.EINVALID)
	wantCode(t, "SetPasswordHash(empty)", s.SetPasswordHash(ctx, u.ID, ""), flavormonk.EINVALID)
	if o, _ := s.User(ctx, other.ID); o.PasswordHash != other.PasswordHash || o.Role != flavormonk.RoleCustomer || o.Plan != flavormonk.PlanFree {
		t.Fatalf("another user changed: %+v", o)
	}
}

func testInvites(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	admin := newUser(t, s, "admin@example.com")
	if err := s.CreateInvite(ctx, "invite-1", admin.ID); err != nil {
		t.Fatalf("CreateInvite: %v", err)
	}
	if err := s.CreateInvite(ctx, "invite-cli", 0); err != nil {
		t.Fatalf("CreateInvite by nobody: %v", err)
	}
	wantCode(t, "CreateInvite(duplicate)", s.CreateInvite(ctx, "invite-1", admin.ID), flavormonk.ECONFLICT)
	wantCode(t, "CreateInvite(empty)", s.CreateInvite(ctx, "", admin.ID), flavormonk.EINVALID)

	// Unknown invite: EINVALID, nothing stored.
	u := &flavormonk.User{Email: "guest@example.com", PasswordHash: "x"}
	wantCode(t, "CreateUser(unknown invite)", s.CreateUser(ctx, u, "no-such-invite"), flavormonk.EINVALID)
	if _, err := s.UserByEmail(ctx, "guest@example.com"); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
		t.Fatalf("user stored despite an unknown invite: %v", err)
	}
	// Consumed once.
	if err := s.CreateUser(ctx, u, "invite-1"); err != nil {
		t.Fatalf("CreateUser with invite: %v", err)
	}
	again := &flavormonk.User{Email: "guest2@example.com", PasswordHash: "x"}
	wantCode(t, "CreateUser(used invite)", s.CreateUser(ctx, again, "invite-1"), flavormonk.EINVALID)
	if _, err := s.UserByEmail(ctx, "guest2@example.com"); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
		t.Fatalf("user stored despite a used invite: %v", err)
	}
	// Deleting the user who used it does not make it usable again.
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "CreateUser(invite of a deleted user)", s.CreateUser(ctx, again, "invite-1"), flavormonk.EINVALID)
	// Deleting the admin who made an invite keeps the invite.
	if err := s.DeleteUser(ctx, admin.ID); err != nil {
		t.Fatalf("DeleteUser(inviter): %v", err)
	}
	if err := s.CreateUser(ctx, again, "invite-cli"); err != nil {
		t.Fatalf("CreateUser with a CLI invite: %v", err)
	}
	if n, _ := s.CountUsers(ctx); n != 1 {
		t.Fatalf("CountUsers = %d, want 1", n)
	}
}

func testInviteNotConsumedOnConflict(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	newUser(t, s, "taken@example.com")
	if err := s.CreateInvite(ctx, "inv", 0); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "CreateUser(taken email, invite)",
		s.CreateUser(ctx, &flavormonk.User{Email: "Taken@example.com", PasswordHash: "x"}, "inv"), flavormonk.ECONFLICT)
	wantCode(t, "CreateUser(bad role, invite)",
		s.CreateUser(ctx, &flavormonk.User{Email: "x@example.com", Role: "x"}, "inv"), flavormonk.EINVALID)
	// The invite is still unused.
	if err := s.CreateUser(ctx, &flavormonk.User{Email: "fresh@example.com", PasswordHash: "x"}, "inv"); err != nil {
		t.Fatalf("invite consumed by a failed CreateUser: %v", err)
	}
}

func testConcurrentInvite(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	if err := s.CreateInvite(ctx, "one-use", 0); err != nil {
		t.Fatal(err)
	}
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.CreateUser(ctx, &flavormonk.User{Email: fmt.Sprintf("u%d@example.com", i), PasswordHash: "x"}, "one-use")
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case flavormonk.ErrorCode(err) != flavormonk.EINVALID:
			t.Fatalf("concurrent CreateUser with one invite: %v", err)
		}
	}
	if c, _ := s.CountUsers(ctx); ok != 1 || c != 1 {
		t.Fatalf("%d CreateUser calls succeeded, %d users stored; want 1 and 1", ok, c)
	}
}

func testSessions(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	u := newUser(t, s, "sess@example.com")
	other := newUser(t, s, "other@example.com")
	created := clk.Now().Add(-time.Hour)
	sess := &flavormonk.Session{TokenHash: "hash-1", UserID: u.ID, CSRF: "csrf-1",
		CreatedAt: created, SeenAt: created, ExpiresAt: created.Add(30 * 24 * time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if err := s.CreateSession(ctx, &flavormonk.Session{TokenHash: "hash-2", UserID: u.ID, CSRF: "c", ExpiresAt: clk.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, &flavormonk.Session{TokenHash: "hash-3", UserID: other.ID, CSRF: "c", ExpiresAt: clk.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Session(ctx, "hash-1")
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	if got.TokenHash != "hash-1" || got.UserID != u.ID || got.CSRF != "csrf-1" || !sameTime(got.CreatedAt, created) ||
		!sameTime(got.SeenAt, created) || !sameTime(got.ExpiresAt, sess.ExpiresAt) {
		t.Fatalf("Session = %+v, want %+v", got, sess)
	}
	if s2, err := s.Session(ctx, "hash-2"); err != nil || s2.CreatedAt.IsZero() || !s2.SeenAt.Equal(s2.CreatedAt) {
		t.Fatalf("Session(defaults) = %+v, %v", s2, err)
	}
	got, err = s.Session(ctx, "unknown")
	wantCode(t, "Session(unknown)", err, flavormonk.ENOTFOUND)
	if got != nil {
		t.Fatal("Session(unknown) returned a session with its error")
	}
	wantCode(t, "CreateSession(duplicate)", s.CreateSession(ctx, &flavormonk.Session{TokenHash: "hash-1", UserID: u.ID, ExpiresAt: clk.Now()}), flavormonk.ECONFLICT)
	wantCode(t, "CreateSession(unknown user)", s.CreateSession(ctx, &flavormonk.Session{TokenHash: "h9", UserID: 999999, ExpiresAt: clk.Now()}), flavormonk.ENOTFOUND)
	wantCode(t, "CreateSession(no hash)", s.CreateSession(ctx, &flavormonk.Session{UserID: u.ID, ExpiresAt: clk.Now()}), flavormonk.EINVALID)

	seen := clk.Now()
	if err := s.TouchSession(ctx, "hash-1", seen); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	if got, _ := s.Session(ctx, "hash-1"); !sameTime(got.SeenAt, seen) || !sameTime(got.CreatedAt, created) {
		t.Fatalf("after TouchSession: %+v, want seen %v", got, seen)
	}
	wantCode(t, "TouchSession(unknown)", s.TouchSession(ctx, "unknown", seen), flavormonk.ENOTFOUND)

	if err := s.DeleteSession(ctx, "hash-1"); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	_, err = s.Session(ctx, "hash-1")
	wantCode(t, "Session(deleted)", err, flavormonk.ENOTFOUND)
	wantCode(t, "DeleteSession(again)", s.DeleteSession(ctx, "hash-1"), flavormonk.ENOTFOUND)

	if err := s.DeleteUserSessions(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUserSessions: %v", err)
	}
	_, err = s.Session(ctx, "hash-2")
	wantCode(t, "Session after DeleteUserSessions", err, flavormonk.ENOTFOUND)
	if _, err := s.Session(ctx, "hash-3"); err != nil {
		t.Fatalf("another user's session was deleted: %v", err)
	}
	if err := s.DeleteUserSessions(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUserSessions with none left: %v", err)
	}
}

func testAPITokens(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	u := newUser(t, s, "api@example.com")
	if ts, err := s.APITokens(ctx, u.ID); err != nil || ts == nil || len(ts) != 0 {
		t.Fatalf("APITokens(none) = %v, %v; want an empty list", ts, err)
	}
	var made []*flavormonk.APIToken
	for i, scopes := range [][]string{{flavormonk.ScopeRead}, {flavormonk.ScopeRead, flavormonk.ScopeAsk}, {}} {
		tok := &flavormonk.APIToken{UserID: u.ID, Name: fmt.Sprintf("token %d", i), Hash: fmt.Sprintf("hash-%d", i),
			Prefix: fmt.Sprintf("fm_%d", i), Scopes: scopes}
		before := clk.Now()
		if err := s.CreateAPIToken(ctx, tok); err != nil {
			t.Fatalf("CreateAPIToken: %v", err)
		}
		if tok.ID <= 0 || tok.CreatedAt.Before(before) {
			t.Fatalf("created token = %+v", tok)
		}
		made = append(made, tok)
		clk.Add(2 * time.Millisecond)
	}
	got, err := s.APIToken(ctx, "hash-1")
	if err != nil {
		t.Fatalf("APIToken: %v", err)
	}
	if got.ID != made[1].ID || got.UserID != u.ID || got.Name != "token 1" || got.Hash != "hash-1" || got.Prefix != "fm_1" ||
		!slices.Equal(got.Scopes, []string{"read", "ask"}) || !sameTime(got.CreatedAt, made[1].CreatedAt) ||
		got.LastUsed != nil || got.RevokedAt != nil {
		t.Fatalf("APIToken = %+v, want %+v", got, made[1])
	}
	if got, err := s.APIToken(ctx, "hash-2"); err != nil || got.Scopes == nil || len(got.Scopes) != 0 {
		t.Fatalf("APIToken(no scopes) = %+v, %v", got, err)
	}
	got, err = s.APIToken(ctx, "unknown")
	wantCode(t, "APIToken(unknown)", err, flavormonk.ENOTFOUND)
	if got != nil {
		t.Fatal("APIToken(unknown) returned a token with its error")
	}
	wantCode(t, "CreateAPIToken(duplicate hash)", s.CreateAPIToken(ctx, &flavormonk.APIToken{UserID: u.ID, Name: "x", Hash: "hash-0"}), flavormonk.ECONFLICT)
	wantCode(t, "CreateAPIToken(unknown user)", s.CreateAPIToken(ctx, &flavormonk.APIToken{UserID: 999999, Name: "x", Hash: "h9"}), flavormonk.ENOTFOUND)
	wantCode(t, "CreateAPIToken(bad scope)", s.CreateAPIToken(ctx, &flavormonk.APIToken{UserID: u.ID, Name: "x", Hash: "h8", Scopes: []string{"admin"}}), flavormonk.EINVALID)

	used := clk.Now()
	if err := s.TouchAPIToken(ctx, made[0].ID, used); err != nil {
		t.Fatalf("TouchAPIToken: %v", err)
	}
	wantCode(t, "TouchAPIToken(unknown)", s.TouchAPIToken(ctx, 999999, used), flavormonk.ENOTFOUND)
	if err := s.RevokeAPIToken(ctx, u.ID, made[0].ID); err != nil {
		t.Fatalf("RevokeAPIToken: %v", err)
	}
	wantCode(t, "RevokeAPIToken(unknown)", s.RevokeAPIToken(ctx, u.ID, 999999), flavormonk.ENOTFOUND)

	list, err := s.APITokens(ctx, u.ID)
	if err != nil {
		t.Fatalf("APITokens: %v", err)
	}
	var ids []int64
	for _, tok := range list {
		ids = append(ids, tok.ID)
	}
	if want := []int64{made[2].ID, made[1].ID, made[0].ID}; !slices.Equal(ids, want) {
		t.Fatalf("APITokens ids = %v, want newest first %v (revoked included)", ids, want)
	}
	revoked := list[2]
	if revoked.RevokedAt == nil || revoked.LastUsed == nil || !sameTime(*revoked.LastUsed, used) {
		t.Fatalf("revoked token = %+v", revoked)
	}
	if got, err := s.APIToken(ctx, "hash-0"); err != nil || got.RevokedAt == nil {
		t.Fatalf("APIToken(revoked) = %+v, %v; want it with RevokedAt", got, err)
	}
	first := *revoked.RevokedAt
	clk.Add(2 * time.Millisecond)
	if err := s.RevokeAPIToken(ctx, u.ID, made[0].ID); err != nil {
		t.Fatalf("RevokeAPIToken again: %v", err)
	}
	if got, _ := s.APIToken(ctx, "hash-0"); !got.RevokedAt.Equal(first) {
		t.Fatalf("revoking again moved RevokedAt from %v to %v", first, got.RevokedAt)
	}
	if list[0].RevokedAt != nil || list[1].RevokedAt != nil {
		t.Fatal("revoking one token revoked others")
	}
}

func testRevokeOtherUsersToken(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	alice := newUser(t, s, "alice@example.com")
	mallory := newUser(t, s, "mallory@example.com")
	tok := &flavormonk.APIToken{UserID: alice.ID, Name: "mine", Hash: "alice-hash", Scopes: []string{flavormonk.ScopeRead}}
	if err := s.CreateAPIToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "RevokeAPIToken(another user's token)", s.RevokeAPIToken(ctx, mallory.ID, tok.ID), flavormonk.ENOTFOUND)
	got, err := s.APIToken(ctx, "alice-hash")
	if err != nil || got.RevokedAt != nil {
		t.Fatalf("alice's token after mallory's revoke = %+v, %v; want it unrevoked", got, err)
	}
	if ts, _ := s.APITokens(ctx, mallory.ID); len(ts) != 0 {
		t.Fatalf("APITokens(mallory) = %v, want none", ts)
	}
}

func testFavourites(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	u := newUser(t, s, "fav@example.com")
	other := newUser(t, s, "other@example.com")
	upsert(t, s, NewRecipe("soup"), NewRecipe("stew"), NewRecipe("cake"))
	if fs, err := s.Favourites(ctx, u.ID); err != nil || fs == nil || len(fs) != 0 {
		t.Fatalf("Favourites(none) = %v, %v; want an empty list", fs, err)
	}
	for _, id := range []string{"stew", "soup", "cake"} {
		if err := s.SetFavourite(ctx, u.ID, id, ""); err != nil {
			t.Fatalf("SetFavourite(%s): %v", id, err)
		}
		clk.Add(2 * time.Millisecond)
	}
	if err := s.SetFavourite(ctx, other.ID, "soup", "theirs"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "SetFavourite(unknown recipe)", s.SetFavourite(ctx, u.ID, "no-such-recipe", ""), flavormonk.ENOTFOUND)
	wantCode(t, "SetFavourite(unknown user)", s.SetFavourite(ctx, 999999, "soup", ""), flavormonk.ENOTFOUND)
	wantCode(t, "SetFavourite(long note)", s.SetFavourite(ctx, u.ID, "soup", strings.Repeat("x", 2001)), flavormonk.EINVALID)
	if err := s.SetFavourite(ctx, u.ID, "soup", strings.Repeat("é", 1000)); err != nil { // 2000 bytes
		t.Fatalf("SetFavourite(2000-byte note): %v", err)
	}
	if err := s.SetFavourite(ctx, u.ID, "soup", "add chilli"); err != nil {
		t.Fatalf("SetFavourite(update note): %v", err)
	}
	fs, err := s.Favourites(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.RecipeID)
	}
	if want := []string{"cake", "soup", "stew"}; !slices.Equal(ids, want) {
		t.Fatalf("Favourites = %v, want newest first %v", ids, want)
	}
	soup := fs[1]
	if soup.Note != "add chilli" || !soup.UpdatedAt.After(soup.CreatedAt) || soup.CreatedAt.Location() != time.UTC {
		t.Fatalf("updated favourite = %+v", soup)
	}
	if err := s.DeleteFavourite(ctx, u.ID, "stew"); err != nil {
		t.Fatalf("DeleteFavourite: %v", err)
	}
	wantCode(t, "DeleteFavourite(again)", s.DeleteFavourite(ctx, u.ID, "stew"), flavormonk.ENOTFOUND)
	if fs, _ := s.Favourites(ctx, u.ID); len(fs) != 2 {
		t.Fatalf("after DeleteFavourite: %d favourites, want 2", len(fs))
	}
	if fs, _ := s.Favourites(ctx, other.ID); len(fs) != 1 || fs[0].Note != "theirs" {
		t.Fatalf("other user's favourites = %v", fs)
	}
}

func testGrants(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	u := newUser(t, s, "grant@example.com")
	if gs, err := s.Grants(ctx, u.ID); err != nil || gs == nil || len(gs) != 0 {
		t.Fatalf("Grants(none) = %v, %v; want an empty list", gs, err)
	}
	checked := clk.Now().Add(-time.Minute)
	g := &flavormonk.Grant{UserID: u.ID, Plan: flavormonk.PlanChef, Source: "gumroad", LicenseKey: "key-hash", Active: true, CheckedAt: checked}
	if err := s.SetGrant(ctx, g); err != nil {
		t.Fatalf("SetGrant: %v", err)
	}
	if g.CreatedAt.IsZero() {
		t.Fatal("SetGrant did not set CreatedAt")
	}
	created := g.CreatedAt
	clk.Add(2 * time.Millisecond)
	if err := s.SetGrant(ctx, &flavormonk.Grant{UserID: u.ID, Plan: flavormonk.PlanChef, Source: "admin"}); err != nil {
		t.Fatal(err)
	}
	// Update by (user, source, licence key): refunded.
	checked2 := clk.Now()
	upd := &flavormonk.Grant{UserID: u.ID, Plan: flavormonk.PlanChef, Source: "gumroad", LicenseKey: "key-hash", Active: false, CheckedAt: checked2}
	if err := s.SetGrant(ctx, upd); err != nil {
		t.Fatalf("SetGrant(update): %v", err)
	}
	if !upd.CreatedAt.Equal(created) {
		t.Fatalf("update changed CreatedAt from %v to %v", created, upd.CreatedAt)
	}
	gs, err := s.Grants(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 {
		t.Fatalf("Grants = %d, want 2 (upserted, not duplicated)", len(gs))
	}
	adminG, gum := gs[0], gs[1]
	if adminG.Source != "admin" || adminG.Active || !adminG.CheckedAt.IsZero() || adminG.LicenseKey != "" {
		t.Fatalf("admin grant = %+v", adminG)
	}
	if gum.Source != "gumroad" || gum.LicenseKey != "key-hash" || gum.Active || !sameTime(gum.CheckedAt, checked2) ||
		!sameTime(gum.CreatedAt, created) || gum.Plan != flavormonk.PlanChef || gum.UserID != u.ID {
		t.Fatalf("gumroad grant = %+v", gum)
	}
	wantCode(t, "SetGrant(unknown user)", s.SetGrant(ctx, &flavormonk.Grant{UserID: 999999, Plan: flavormonk.PlanChef, Source: "admin"}), flavormonk.ENOTFOUND)
	wantCode(t, "SetGrant(bad plan)", s.SetGrant(ctx, &flavormonk.Grant{UserID: u.ID, Plan: "gold", Source: "admin"}), flavormonk.EINVALID)
	wantCode(t, "SetGrant(no source)", s.SetGrant(ctx, &flavormonk.Grant{UserID: u.ID, Plan: flavormonk.PlanChef}), flavormonk.EINVALID)
}

func testDeleteUserCascades(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	upsert(t, s, NewRecipe("soup"))
	for _, email := range []string{"gone@example.com", "stays@example.com"} {
		u := newUser(t, s, email)
		tag := strings.Split(email, "@")[0]
		must(t, s.CreateSession(ctx, &flavormonk.Session{TokenHash: "sess-" + tag, UserID: u.ID, CSRF: "c", ExpiresAt: clk.Now().Add(time.Hour)}))
		must(t, s.CreateAPIToken(ctx, &flavormonk.APIToken{UserID: u.ID, Name: "t", Hash: "tok-" + tag, Scopes: []string{"read"}}))
		must(t, s.SetFavourite(ctx, u.ID, "soup", "n"))
		must(t, s.SetGrant(ctx, &flavormonk.Grant{UserID: u.ID, Plan: flavormonk.PlanChef, Source: "admin", Active: true}))
	}
	gone, _ := s.UserByEmail(ctx, "gone@example.com")
	stays, _ := s.UserByEmail(ctx, "stays@example.com")
	if err := s.DeleteUser(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err := s.User(ctx, gone.ID)
	wantCode(t, "User(deleted)", err, flavormonk.ENOTFOUND)
	_, err = s.Session(ctx, "sess-gone")
	wantCode(t, "Session of a deleted user", err, flavormonk.ENOTFOUND)
	_, err = s.APIToken(ctx, "tok-gone")
	wantCode(t, "APIToken of a deleted user", err, flavormonk.ENOTFOUND)
	if fs, err := s.Favourites(ctx, gone.ID); err != nil || len(fs) != 0 {
		t.Fatalf("Favourites of a deleted user = %v, %v", fs, err)
	}
	if gs, err := s.Grants(ctx, gone.ID); err != nil || len(gs) != 0 {
		t.Fatalf("Grants of a deleted user = %v, %v", gs, err)
	}
	// The other user keeps everything.
	if _, err := s.Session(ctx, "sess-stays"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.APIToken(ctx, "tok-stays"); err != nil {
		t.Fatal(err)
	}
	if fs, _ := s.Favourites(ctx, stays.ID); len(fs) != 1 {
		t.Fatalf("other user's favourites = %v", fs)
	}
	if gs, _ := s.Grants(ctx, stays.ID); len(gs) != 1 {
		t.Fatalf("other user's grants = %v", gs)
	}
	// The email is free again.
	again := newUser(t, s, "GONE@example.com")
	if again.ID == gone.ID {
		t.Fatalf("a new user reused deleted id %d", gone.ID)
	}
	if fs, _ := s.Favourites(ctx, again.ID); len(fs) != 0 {
		t.Fatal("a new user inherited favourites")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testLicenseKeyOnce(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	a := newUser(t, s, "a@example.com")
	b := newUser(t, s, "b@example.com")
	g := &flavormonk.Grant{UserID: a.ID, Plan: flavormonk.PlanChef, Source: "gumroad", LicenseKey: "hash-1", Active: true, Sealed: []byte("sealed-1")}
	must(t, s.SetGrant(ctx, g))
	// The same user again: an update, not a conflict.
	must(t, s.SetGrant(ctx, &flavormonk.Grant{UserID: a.ID, Plan: flavormonk.PlanChef, Source: "gumroad", LicenseKey: "hash-1", Active: false}))
	err := s.SetGrant(ctx, &flavormonk.Grant{UserID: b.ID, Plan: flavormonk.PlanChef, Source: "gumroad", LicenseKey: "hash-1", Active: true})
	wantCode(t, "SetGrant(key of another user)", err, flavormonk.ECONFLICT)
	if gs, _ := s.Grants(ctx, b.ID); len(gs) != 0 {
		t.Fatalf("the refused grant was stored: %+v", gs)
	}
	gs, _ := s.Grants(ctx, a.ID)
	if len(gs) != 1 || gs[0].Active || string(gs[0].Sealed) != "sealed-1" {
		t.Fatalf("grants of the key's owner = %+v (the sealed key must survive an update without one)", gs)
	}
	// Grants without a key (admin) are not limited; deleting the owner frees the key.
	must(t, s.SetGrant(ctx, &flavormonk.Grant{UserID: a.ID, Plan: flavormonk.PlanChef, Source: "admin", Active: true}))
	must(t, s.SetGrant(ctx, &flavormonk.Grant{UserID: b.ID, Plan: flavormonk.PlanChef, Source: "admin", Active: true}))
	must(t, s.DeleteUser(ctx, a.ID))
	must(t, s.SetGrant(ctx, &flavormonk.Grant{UserID: b.ID, Plan: flavormonk.PlanChef, Source: "gumroad", LicenseKey: "hash-1", Active: true}))
	wantCode(t, "SetGrant(oversized sealed key)", s.SetGrant(ctx, &flavormonk.Grant{UserID: b.ID, Plan: flavormonk.PlanChef,
		Source: "gumroad", LicenseKey: "hash-2", Sealed: make([]byte, 10<<10)}), flavormonk.EINVALID)
}

func testLicenseGrants(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	u := newUser(t, s, "a@example.com")
	v := newUser(t, s, "b@example.com")
	base := clk.Now().Add(-48 * time.Hour)
	must(t, s.SetGrant(ctx, &flavormonk.Grant{UserID: u.ID, Plan: flavormonk.PlanChef, Source: "gumroad", LicenseKey: "old", Active: true, CheckedAt: base, Sealed: []byte{1, 2, 3}}))
	must(t, s.SetGrant(ctx, &flavormonk.Grant{UserID: v.ID, Plan: flavormonk.PlanChef, Source: "gumroad", LicenseKey: "older", Active: false, CheckedAt: base.Add(-time.Hour), Sealed: []byte{4}}))
	must(t, s.SetGrant(ctx, &flavormonk.Grant{UserID: v.ID, Plan: flavormonk.PlanChef, Source: "gumroad", LicenseKey: "fresh", Active: true, CheckedAt: clk.Now(), Sealed: []byte{5}}))
	must(t, s.SetGrant(ctx, &flavormonk.Grant{UserID: v.ID, Plan: flavormonk.PlanChef, Source: "gumroad", LicenseKey: "unsealed", Active: true, CheckedAt: base}))
	must(t, s.SetGrant(ctx, &flavormonk.Grant{UserID: v.ID, Plan: flavormonk.PlanChef, Source: "admin", Active: true}))
	gs, err := s.LicenseGrants(ctx, clk.Now().Add(-24*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 || gs[0].LicenseKey != "older" || gs[1].LicenseKey != "old" {
		t.Fatalf("LicenseGrants = %+v; want older, old (oldest check first, sealed only, due only)", gs)
	}
	if gs[0].UserID != v.ID || gs[0].Active || string(gs[0].Sealed) != "\x04" || !sameTime(gs[1].CheckedAt, ts(base)) {
		t.Fatalf("LicenseGrants fields = %+v", gs[0])
	}
	if gs, _ := s.LicenseGrants(ctx, clk.Now().Add(-24*time.Hour), 1); len(gs) != 1 || gs[0].LicenseKey != "older" {
		t.Fatalf("LicenseGrants(limit 1) = %+v", gs)
	}
	if gs, err := s.LicenseGrants(ctx, clk.Now().Add(-72*time.Hour), 10); err != nil || gs == nil || len(gs) != 0 {
		t.Fatalf("LicenseGrants(none due) = %v, %v; want an empty list", gs, err)
	}
}

func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func testSessionHashes(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	u := newUser(t, s, "a@example.com")
	o := newUser(t, s, "b@example.com")
	for _, h := range []string{"h2", "h1"} {
		must(t, s.CreateSession(ctx, &flavormonk.Session{TokenHash: h, UserID: u.ID, CSRF: "c", ExpiresAt: clk.Now().Add(time.Hour)}))
	}
	must(t, s.CreateSession(ctx, &flavormonk.Session{TokenHash: "other", UserID: o.ID, CSRF: "c", ExpiresAt: clk.Now().Add(time.Hour)}))
	hs, err := s.SessionHashes(ctx, u.ID)
	if err != nil || len(hs) != 2 || hs[0] != "h1" || hs[1] != "h2" {
		t.Fatalf("SessionHashes = %v, %v", hs, err)
	}
	if hs, err := s.SessionHashes(ctx, 999999); err != nil || hs == nil || len(hs) != 0 {
		t.Fatalf("SessionHashes(unknown) = %v, %v; want an empty list", hs, err)
	}
}

func testLinkVisitor(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	u := newUser(t, s, "a@example.com")
	o := newUser(t, s, "b@example.com")
	v1, err := s.CreateVisitor(ctx)
	must(t, err)
	v2, err := s.CreateVisitor(ctx)
	must(t, err)
	must(t, s.LinkVisitor(ctx, v1.ID, u.ID))
	must(t, s.LinkVisitor(ctx, v1.ID, u.ID)) // again: no change, no error
	must(t, s.LinkVisitor(ctx, v2.ID, u.ID))
	wantCode(t, "LinkVisitor(another user's)", s.LinkVisitor(ctx, v1.ID, o.ID), flavormonk.ECONFLICT)
	wantCode(t, "LinkVisitor(unknown visitor)", s.LinkVisitor(ctx, "nope", u.ID), flavormonk.ENOTFOUND)
	wantCode(t, "LinkVisitor(unknown user)", s.LinkVisitor(ctx, (func() string { v, _ := s.CreateVisitor(ctx); return v.ID })(), 999999), flavormonk.ENOTFOUND)
	vs, err := s.UserVisitors(ctx, u.ID)
	if err != nil || len(vs) != 2 {
		t.Fatalf("UserVisitors = %v, %v", vs, err)
	}
	if vs, err := s.UserVisitors(ctx, o.ID); err != nil || vs == nil || len(vs) != 0 {
		t.Fatalf("UserVisitors(none) = %v, %v; want an empty list", vs, err)
	}
	// The visitor session keeps working after linking.
	if _, err := s.Visitor(ctx, v1.ID); err != nil {
		t.Fatal(err)
	}
	must(t, s.DeleteUser(ctx, u.ID))
	_, err = s.Visitor(ctx, v1.ID)
	wantCode(t, "Visitor(of a deleted user)", err, flavormonk.ENOTFOUND)
}

func testListUsers(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	if us, err := s.Users(ctx, 0, 10); err != nil || us == nil || len(us) != 0 {
		t.Fatalf("Users(empty) = %v, %v; want an empty list", us, err)
	}
	var ids []int64
	for _, e := range []string{"c@example.com", "a@example.com", "b@example.com"} {
		ids = append(ids, newUser(t, s, e).ID)
	}
	us, err := s.Users(ctx, 0, 2)
	if err != nil || len(us) != 2 || us[0].ID != ids[0] || us[1].ID != ids[1] || us[0].Email != "c@example.com" {
		t.Fatalf("Users(0, 2) = %+v, %v", us, err)
	}
	us, err = s.Users(ctx, us[1].ID, 2)
	if err != nil || len(us) != 1 || us[0].ID != ids[2] || us[0].Role != flavormonk.RoleCustomer || !sameTime(us[0].CreatedAt, us[0].CreatedAt.UTC()) {
		t.Fatalf("Users(after, 2) = %+v, %v", us, err)
	}
}
