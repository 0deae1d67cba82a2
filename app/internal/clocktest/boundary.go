package clocktest

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin on machines without a zone database
)

// Boundary is an instant where calendar arithmetic goes wrong: the last
// second of a month or year, a leap day, a daylight-saving change in a
// non-UTC zone. Its expectations are UTC: a usage period is a UTC month
// and a report day a UTC day, whatever the process's local zone.
type Boundary struct {
	Name string
	// At is the instant, in the zone a careless reading would use.
	At time.Time
	// Period is the UTC month of At, Next the one a second after it.
	Period, Next string
	// Day is At's UTC day, as a report groups it.
	Day time.Time
	// Reset is the day Period's limits reset, as errors say it.
	Reset string
}

// Berlin (Europe/Berlin) is loaded from the embedded zone database, so it
// never fails.
var Berlin = mustZone("Europe/Berlin")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func utcDay(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// Boundaries are the fixed instants the time-dependent conformance tests
// (and the meter's, sessions' and throttles' tests) run at.
var Boundaries = []Boundary{
	{Name: "MonthEnd", At: time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC),
		Period: "2026-11", Next: "2026-12", Day: utcDay(2026, 11, 30), Reset: "2026-12-01"},
	{Name: "YearEnd", At: time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC),
		Period: "2026-12", Next: "2027-01", Day: utcDay(2026, 12, 31), Reset: "2027-01-01"},
	{Name: "EveOfLeapDay", At: time.Date(2028, 2, 28, 23, 59, 59, 0, time.UTC),
		Period: "2028-02", Next: "2028-02", Day: utcDay(2028, 2, 28), Reset: "2028-03-01"},
	{Name: "LeapDayEnd", At: time.Date(2028, 2, 29, 23, 59, 59, 0, time.UTC),
		Period: "2028-02", Next: "2028-03", Day: utcDay(2028, 2, 29), Reset: "2028-03-01"},
	// Berlin skips 02:00-03:00 on 28 March 2027: 01:59:59 CET is 00:59:59Z.
	{Name: "BerlinSpringForward", At: time.Date(2027, 3, 28, 1, 59, 59, 0, Berlin),
		Period: "2027-03", Next: "2027-03", Day: utcDay(2027, 3, 28), Reset: "2027-04-01"},
	// Berlin repeats 02:00-03:00 on 31 October 2027: the first 02:59:59
	// (CEST) is 00:59:59Z, the second (CET) 01:59:59Z.
	{Name: "BerlinFallBackFirst", At: time.Date(2027, 10, 31, 0, 59, 59, 0, time.UTC).In(Berlin),
		Period: "2027-10", Next: "2027-10", Day: utcDay(2027, 10, 31), Reset: "2027-11-01"},
	{Name: "BerlinFallBackSecond", At: time.Date(2027, 10, 31, 1, 59, 59, 0, time.UTC).In(Berlin),
		Period: "2027-10", Next: "2027-10", Day: utcDay(2027, 10, 31), Reset: "2027-11-01"},
	// 01:30 on 1 April in Berlin is still 31 March in UTC: the period and
	// the day are March's.
	{Name: "BerlinAheadOfUTCMonth", At: time.Date(2027, 4, 1, 1, 30, 0, 0, Berlin),
		Period: "2027-03", Next: "2027-03", Day: utcDay(2027, 3, 31), Reset: "2027-04-01"},
	{Name: "BerlinMonthEnd", At: time.Date(2027, 10, 31, 23, 59, 59, 0, time.UTC).In(Berlin),
		Period: "2027-10", Next: "2027-11", Day: utcDay(2027, 10, 31), Reset: "2027-11-01"},
}

// InZones runs fn with the process's local zone set to UTC and then to
// Europe/Berlin, restoring it after: a verdict that changes between the two
// depends on the zone the server happens to run in. Tests calling it must
// not run in parallel with others that read time.Local.
func InZones(t *testing.T, fn func(t *testing.T, zone string)) {
	for _, z := range []*time.Location{time.UTC, Berlin} {
		t.Run(strings.ReplaceAll(z.String(), "/", "_"), func(t *testing.T) {
			saved := time.Local
			time.Local = z
			t.Cleanup(func() { time.Local = saved })
			fn(t, z.String())
		})
	}
}
