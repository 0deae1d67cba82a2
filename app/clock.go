package flavormonk

import "time"

// Clock is where every time-dependent path of the product reads the time:
// the stores (expiry, timestamps), the usage meter, sessions, throttles,
// licences. One Clock is built in cmd/flavormonk and passed down, so a test
// that fakes it fakes it everywhere; nothing may read the wall clock behind
// it. Months and days derived from it are UTC (UsagePeriod), never the
// process's local zone.
type Clock func() time.Time

// Now reads c; a nil Clock is the SystemClock, so zero values stay usable.
func (c Clock) Now() time.Time {
	if c == nil {
		return SystemClock()
	}
	return c()
}

// SystemClock is the wall clock, in UTC and to the microsecond, the
// precision Postgres keeps: a time read, stored and read back compares
// equal.
func SystemClock() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
