package account

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/auth"
	"github.com/flavormonk/flavormonk/app/limit"
)

// Signup is what a sign-up form sends, and the client address it came
// from.
type Signup struct {
	Email, Password, Invite, IP string
}

// CheckInvite refuses an invite code that cannot be one.
func CheckInvite(invite string) error {
	if len(invite) > 128 || !utf8.ValidString(invite) {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "invite", "the invite code is not valid")
	}
	return nil
}

// SignUp creates a customer account. It returns the new user and what a
// form may show again (an error's too): the email once normalised, the
// invite once accepted, never the password. Past the sign-up limit of the
// client network the error is a *limit.RateLimitError.
func (s *Service) SignUp(ctx context.Context, in Signup) (*flavormonk.User, Signup, error) {
	var shown Signup
	giveBack, err := s.signups.Take(ctx, limit.ClientNetwork(in.IP))
	if err != nil {
		return nil, shown, err
	}
	// A sign-up that fails on its input gives its slot back; one that
	// creates an account, or finds the address taken, keeps it.
	keep := false
	defer func() {
		if !keep {
			giveBack()
		}
	}()
	email, err := auth.NormalizeEmail(in.Email)
	if err != nil {
		return nil, shown, err
	}
	shown.Email = email
	if err := auth.CheckPassword(in.Password); err != nil {
		return nil, shown, err
	}
	invite := strings.TrimSpace(in.Invite)
	inviteHash := ""
	if invite != "" {
		if err := CheckInvite(invite); err != nil {
			return nil, shown, err
		}
		inviteHash = auth.HashToken(invite)
		shown.Invite = invite
	} else if s.invites {
		return nil, shown, flavormonk.FieldErrorf(flavormonk.EINVALID, "invite",
			"sign-up is by invitation only for now; enter the invite code you were sent")
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, shown, err
	}
	u := &flavormonk.User{Email: email, PasswordHash: hash, Role: flavormonk.RoleCustomer, Plan: flavormonk.PlanFree}
	if err := s.store.CreateUser(ctx, u, inviteHash); err != nil {
		if flavormonk.ErrorCode(err) == flavormonk.ECONFLICT {
			// Sign-up logs in at once, so it cannot answer "taken" and "created"
			// alike without a mail round trip; instead each answer that an
			// address is taken costs a sign-up from the client network's
			// hourly allowance, so testing which addresses have accounts is
			// as slow as creating accounts.
			keep = true
			err = flavormonk.FieldErrorf(flavormonk.ECONFLICT, "email", "an account with this email exists already; log in instead")
		}
		return nil, shown, err
	}
	keep = true
	return u, shown, nil
}

var errBadCredentials = flavormonk.Errorf(flavormonk.EUNAUTHORIZED, "email or password is wrong")

// LoginKey is the account a log-in attempt is throttled as (and the form
// shows again): the normalised email, or for one that does not normalise,
// what was typed, trimmed and lower-cased.
func LoginKey(email string) string {
	key, err := auth.NormalizeEmail(email)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(email))
	}
	return key
}

// LogIn checks email and password, throttled per account and client
// network (a *limit.RateLimitError past the limits), and returns the user.
func (s *Service) LogIn(ctx context.Context, email, password, ip string) (*flavormonk.User, error) {
	key, nerr := auth.NormalizeEmail(email)
	if nerr != nil {
		key = LoginKey(email) // throttled (hashed when long) all the same
	}
	// The account is looked up before an attempt is counted: with the
	// store unreachable the answer is 503 and costs no attempt, or people
	// retrying through an outage would find themselves locked out after it.
	var u *flavormonk.User
	var lerr error
	if nerr == nil {
		if u, lerr = s.store.UserByEmail(ctx, key); lerr != nil && flavormonk.ErrorCode(lerr) != flavormonk.ENOTFOUND {
			return nil, lerr
		}
	}
	// The attempt is taken before the password is verified, so parallel
	// attempts cannot get past the limit while they wait for a hash slot.
	if err := s.login.Take(ctx, key, ip); err != nil {
		return nil, err
	}
	if nerr != nil || len(password) > 4*auth.MaxPasswordLen || !utf8.ValidString(password) {
		return nil, errBadCredentials
	}
	if lerr != nil {
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return nil, err
		}
		return nil, errBadCredentials
	}
	ok, rehash, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil && !errors.Is(err, auth.ErrMalformedHash) {
		return nil, err // busy
	}
	if err != nil || !ok {
		return nil, errBadCredentials
	}
	s.login.Succeed(ctx, key, ip)
	if rehash {
		if h, err := s.hasher.Hash(ctx, password); err == nil {
			if err := s.store.SetPasswordHash(ctx, u.ID, h); err != nil {
				s.log.WarnContext(ctx, "rehash failed", "err", err)
			}
		}
	}
	return u, nil
}

// ClaimVisitor links the browser's anonymous visitor session to the user
// who signed up or logged in from it, so what is keyed to the visitor id
// (assistant conversations and usage) is attributed to them. It returns
// the id of a new visitor session for the browser when it had none, or
// one that belongs to another user, and "" when its own is kept. Failures
// are logged: they never stop a sign-up or log-in.
func (s *Service) ClaimVisitor(ctx context.Context, u *flavormonk.User, visitorID string) string {
	if visitorID != "" && len(visitorID) <= 128 {
		err := s.store.LinkVisitor(ctx, visitorID, u.ID)
		switch code := flavormonk.ErrorCode(err); {
		case err == nil:
			return ""
		case code == flavormonk.ENOTFOUND || code == flavormonk.ECONFLICT:
			// expired, or another user's: start a new one below
		default:
			s.log.WarnContext(ctx, "linking the visitor session failed", "err", err)
			return ""
		}
	}
	v, err := s.visitors.CreateVisitor(ctx)
	if err == nil {
		err = s.store.LinkVisitor(ctx, v.ID, u.ID)
	}
	if err != nil {
		s.log.WarnContext(ctx, "creating a visitor session for the user failed", "err", err)
		return ""
	}
	return v.ID
}
