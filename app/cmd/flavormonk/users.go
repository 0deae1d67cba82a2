package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/auth"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/gumroad"
)

const usersUsage = `Usage: flavormonk users invite                 create a closed-beta invite code (printed once)
       flavormonk users create-admin EMAIL      create an admin; the password is read from stdin
       flavormonk users grant EMAIL PLAN         give a user a plan (free, chef)
       flavormonk users recheck                  verify every stored licence with Gumroad now;
                                                refunded, disputed or charged-back ones lose their plan
                                                (needs FLAVORMONK_GUMROAD_PRODUCT_ID and FLAVORMONK_LICENSE_SECRET)
`

// stdin is where create-admin reads the password; tests replace it.
var stdin io.Reader = os.Stdin

func runUsers(ctx context.Context, clk flavormonk.Clock, args []string, stdout, stderr io.Writer) error {
	fs := flags("users", stderr, usersUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return usageError{"users needs a subcommand: invite, create-admin, grant or recheck"}
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, clk)
	if err != nil {
		return err
	}
	defer st.Close()
	acc := st
	switch {
	case rest[0] == "invite" && len(rest) == 1:
		code, hash := auth.NewToken("inv_")
		if err := acc.CreateInvite(ctx, hash, 0); err != nil {
			return err
		}
		fmt.Fprintln(stdout, code)
		return nil
	case rest[0] == "create-admin" && len(rest) == 2:
		email, err := auth.NormalizeEmail(rest[1])
		if err != nil {
			return err
		}
		pw, err := readPassword(stderr)
		if err != nil {
			return err
		}
		if err := auth.CheckPassword(pw); err != nil {
			return err
		}
		hash, err := auth.NewHasher(auth.DefaultParams, 1).Hash(ctx, pw)
		if err != nil {
			return err
		}
		u := &flavormonk.User{Email: email, PasswordHash: hash, Role: flavormonk.RoleAdmin, Plan: flavormonk.PlanFree}
		if err := acc.CreateUser(ctx, u, ""); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "admin %s created (id %d)\n", u.Email, u.ID)
		return nil
	case rest[0] == "grant" && len(rest) == 3:
		email, err := auth.NormalizeEmail(rest[1])
		if err != nil {
			return err
		}
		plan := strings.ToLower(rest[2])
		if plan != flavormonk.PlanFree && plan != flavormonk.PlanChef {
			return flavormonk.FieldErrorf(flavormonk.EINVALID, "PLAN", "unknown plan %q; allowed: %s, %s", rest[2], flavormonk.PlanFree, flavormonk.PlanChef)
		}
		u, err := acc.UserByEmail(ctx, email)
		if err != nil {
			return err
		}
		if err := acc.SetGrant(ctx, &flavormonk.Grant{UserID: u.ID, Plan: plan, Source: "admin", Active: true}); err != nil {
			return err
		}
		if err := acc.SetPlan(ctx, u.ID, plan); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s now has the %s plan\n", u.Email, plan)
		return nil
	case rest[0] == "recheck" && len(rest) == 1:
		return recheckLicenses(ctx, clk, cfg, acc, stdout, stderr)
	}
	fs.Usage()
	return usageError{fmt.Sprintf("unknown users command %q", strings.Join(rest, " "))}
}

// readPassword reads one line: without echo on a terminal, plainly from a pipe.
func readPassword(stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// recheckOptions are the licence re-checks the configuration asks for.
func recheckOptions(c *config.Config) gumroad.RecheckOptions {
	return gumroad.RecheckOptions{ProductID: c.GumroadProductID, BaseURL: c.GumroadURL,
		LicenseSecret: c.LicenseSecret, Interval: c.LicenseRecheck}
}

// recheckLicenses verifies every stored licence now, round after round
// until none is left unverified (or Gumroad stops answering).
func recheckLicenses(ctx context.Context, clk flavormonk.Clock, cfg *config.Config, acc flavormonk.AccountStore, stdout, stderr io.Writer) error {
	rc, why, err := gumroad.NewRechecker(recheckOptions(cfg), acc, newLogger(cfg, stderr))
	if err != nil {
		return err
	}
	if rc == nil {
		return flavormonk.Errorf(flavormonk.EINVALID, "licence re-checks are off: %s", why)
	}
	rc.Now = clk
	start := clk.Now()
	var total gumroad.RecheckReport
	for {
		rep, err := rc.Recheck(ctx, start)
		total.Checked += rep.Checked
		total.Kept += rep.Kept
		total.Revoked += rep.Revoked
		total.Restored += rep.Restored
		total.Inactive += rep.Inactive
		total.Unavailable += rep.Unavailable
		total.Unreadable += rep.Unreadable
		if err != nil {
			return err
		}
		if rep.Checked == 0 || rep.Unavailable > 0 {
			break
		}
	}
	fmt.Fprintf(stdout, "licences checked: %d (kept %d, revoked %d, restored %d, still inactive %d); not checked: %d unavailable, %d unreadable\n",
		total.Checked, total.Kept, total.Revoked, total.Restored, total.Inactive, total.Unavailable, total.Unreadable)
	if total.Unavailable > 0 {
		return flavormonk.Errorf(flavormonk.EUNAVAILABLE, "Gumroad did not answer; %d licences keep their state until the next re-check", total.Unavailable)
	}
	return nil
}
