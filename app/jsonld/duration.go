package jsonld

import (
	"math"
	"strconv"
	"strings"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// MaxDurationMinutes is the longest time a recipe may take: 14 days (long
// ferments and cures are real; a year is a typo).
const MaxDurationMinutes = 14 * 24 * 60

// ParseDuration parses a recipe time into whole minutes (seconds round to
// the nearest minute). It accepts ISO 8601 durations as schema.org asks
// ("PT1H30M", "P0DT0H45M", "PT90M", "P1DT2H", "PT0.5H", any case), and the
// plain text sites publish instead ("45 minutes", "1 hour 20 min", "1h30m",
// a bare "45" meaning minutes). Anything else, and anything longer than 14
// days, is an EINVALID error.
func ParseDuration(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, flavormonk.Errorf(flavormonk.EINVALID, "empty duration")
	}
	if len(s) > 64 {
		return 0, flavormonk.Errorf(flavormonk.EINVALID, "duration is longer than 64 bytes")
	}
	var sec float64
	var ok bool
	if s[0] == 'P' || s[0] == 'p' {
		sec, ok = parseISO(strings.ToUpper(s))
	} else {
		sec, ok = parseText(strings.ToLower(s))
	}
	if !ok {
		return 0, flavormonk.Errorf(flavormonk.EINVALID, "cannot read %q as a duration", s)
	}
	if sec > MaxDurationMinutes*60 {
		return 0, flavormonk.Errorf(flavormonk.EINVALID, "duration %q is longer than 14 days", s)
	}
	return int(math.Round(sec / 60)), nil
}

// parseISO reads P[nY][nM][nW][nD][T[nH][nM][nS]]. Years and months count
// as 365 and 30 days: either is over the limit anyway unless zero, which
// some generators write ("P0Y0M0DT0H30M0.000S").
func parseISO(s string) (float64, bool) {
	s = s[1:]
	date, clock, hasT := strings.Cut(s, "T")
	if hasT && clock == "" {
		return 0, false
	}
	total, n := 0.0, 0
	read := func(part string, units map[byte]float64, order string) bool {
		last := -1
		for part != "" {
			i := 0
			for i < len(part) && (part[i] >= '0' && part[i] <= '9' || part[i] == '.' || part[i] == ',') {
				i++
			}
			if i == 0 || i == len(part) || i > 12 {
				return false
			}
			v, err := strconv.ParseFloat(strings.Replace(part[:i], ",", ".", 1), 64)
			if err != nil || v < 0 || v > 1e6 {
				return false
			}
			pos := strings.IndexByte(order, part[i])
			if pos <= last { // unknown designator, repeated or out of order
				return false
			}
			last = pos
			total += v * units[part[i]]
			n++
			part = part[i+1:]
		}
		return true
	}
	day := 86400.0
	if !read(date, map[byte]float64{'Y': 365 * day, 'M': 30 * day, 'W': 7 * day, 'D': day}, "YMWD") ||
		!read(clock, map[byte]float64{'H': 3600, 'M': 60, 'S': 1}, "HMS") {
		return 0, false
	}
	return total, n > 0
}

var textUnits = map[string]float64{
	"d": 86400, "day": 86400, "days": 86400,
	"h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
	"m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60, "mn": 60,
	"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
}

var fillers = map[string]bool{
	"and": true, "about": true, "approx": true, "approximately": true, "around": true,
	"plus": true, "~": true, "ca": true, "+": true,
}

// parseText reads "1 hour 20 min", "1h30m", "90 mins", "1 1/2 hours", "45".
func parseText(s string) (float64, bool) {
	s = strings.ReplaceAll(s, "–", "-")
	// Split letters from digits so that "1h30m" reads as "1 h 30 m".
	var b strings.Builder
	prev := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z'
		digit := c >= '0' && c <= '9'
		if prev != 0 && (letter && (prev >= '0' && prev <= '9') || digit && (prev >= 'a' && prev <= 'z')) {
			b.WriteByte(' ')
		}
		switch c {
		case '-':
			b.WriteString(" - ")
		case ',', ';', '.':
			if c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' && digit0(prev) {
				b.WriteByte(c)
			} else {
				b.WriteByte(' ')
			}
		default:
			b.WriteByte(c)
		}
		prev = c
	}
	toks := strings.Fields(b.String())
	total, pending, havePending, n := 0.0, 0.0, false, 0
	inRange := false
	for _, t := range toks {
		if fillers[t] {
			continue
		}
		if (t == "-" || t == "to") && havePending && !inRange {
			inRange = true // "20-25 minutes" counts the longer end
			continue
		}
		if v, ok := number(t); ok {
			if inRange {
				pending, inRange = math.Max(pending, v), false
				continue
			}
			if havePending {
				// "1 1/2 hours": a whole number followed by a fraction.
				if strings.Contains(t, "/") && v < 1 && pending == math.Trunc(pending) {
					pending += v
					continue
				}
				return 0, false
			}
			pending, havePending = v, true
			continue
		}
		u, ok := textUnits[t]
		if !ok || !havePending || inRange {
			return 0, false
		}
		total += pending * u
		havePending = false
		n++
	}
	if havePending {
		if n > 0 {
			return 0, false // "1 hour 20" is ambiguous enough to refuse
		}
		return pending * 60, true // a bare number: minutes
	}
	return total, n > 0
}

func digit0(c byte) bool { return c >= '0' && c <= '9' }

func number(t string) (float64, bool) {
	if len(t) > 12 || t == "" || !digit0(t[0]) {
		return 0, false
	}
	if a, b, ok := strings.Cut(t, "/"); ok {
		x, err1 := strconv.Atoi(a)
		y, err2 := strconv.Atoi(b)
		if err1 != nil || err2 != nil || y == 0 {
			return 0, false
		}
		return float64(x) / float64(y), true
	}
	for i := 0; i < len(t); i++ {
		if !digit0(t[i]) && t[i] != '.' {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v > 1e6 {
		return 0, false
	}
	return v, true
}
