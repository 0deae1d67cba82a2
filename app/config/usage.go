package config

import (
	"errors"
	"fmt"
	"strings"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/usage/pricing"
)

// Unlimited is how a quota without a limit is written.
const Unlimited = "unlimited"

// maxUSDSetting caps budgets and quotas: a million dollars a month.
const maxUSDSetting = 1_000_000

// usd is an amount of USD per month held in micro-USD. With zeroIsNone
// (the budget), 0 means no limit; otherwise 0 allows nothing and
// "unlimited" means no limit. No limit is flavormonk.NoLimit.
func usd(name, help string, zeroIsNone bool, f func(*Config) *int64) *Var {
	v := &Var{Name: name, Help: help,
		get: func(c *Config) string {
			m := *f(c)
			switch {
			case m < 0 && zeroIsNone:
				return "0"
			case m < 0:
				return Unlimited
			}
			return pricing.FormatFixed(m, 6)
		},
		set: func(c *Config, s string) error {
			s = strings.TrimSpace(s)
			if strings.EqualFold(s, Unlimited) {
				*f(c) = flavormonk.NoLimit
				return nil
			}
			m, err := pricing.ParseFixed(s, 6, maxUSDSetting)
			if err != nil {
				return fmt.Errorf("%v; write USD per month like 5 or 0.25, or %s", err, Unlimited)
			}
			if m == 0 && zeroIsNone {
				m = flavormonk.NoLimit
			}
			*f(c) = m
			return nil
		}}
	return v
}

// prices is FLAVORMONK_PRICES, kept as written once it parses.
func prices(name, help string, f func(*Config) *string) *Var {
	v := str(name, help, f)
	v.set = func(c *Config, s string) error {
		s = strings.TrimSpace(s)
		if _, err := pricing.Parse(s); err != nil {
			var fe *flavormonk.Error
			if errors.As(err, &fe) {
				return errors.New(fe.Message)
			}
			return err
		}
		*f(c) = s
		return nil
	}
	return v
}
