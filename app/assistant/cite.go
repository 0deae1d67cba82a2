package assistant

import (
	"strconv"
	"strings"
)

// citer finds citation markers ("[2]", "[1, 3]") in an answer as it
// streams, including markers split across chunks, and reports each source
// number once, at its first mention.
type citer struct {
	text    strings.Builder
	scanned int
	seen    map[int]bool
	max     int
}

func newCiter(sources int) *citer { return &citer{seen: map[int]bool{}, max: sources} }

// add appends a chunk and returns the newly cited source numbers.
func (c *citer) add(chunk string) []int {
	c.text.WriteString(chunk)
	s := c.text.String()
	var out []int
	for c.scanned < len(s) {
		i := strings.IndexByte(s[c.scanned:], '[')
		if i < 0 {
			c.scanned = len(s)
			break
		}
		i += c.scanned
		j := strings.IndexByte(s[i:], ']')
		if j < 0 {
			if len(s)-i > 16 {
				c.scanned = i + 1 // too long to be a marker
				continue
			}
			c.scanned = i // wait for the rest
			break
		}
		j += i
		var marker []int
		for _, part := range strings.FieldsFunc(s[i+1:j], func(r rune) bool { return r == ',' || r == ' ' }) {
			n, err := strconv.Atoi(part)
			if err != nil {
				marker = nil // not a marker: "[see below]"
				break
			}
			marker = append(marker, n)
		}
		for _, n := range marker {
			if n >= 1 && n <= c.max && !c.seen[n] {
				c.seen[n] = true
				out = append(out, n)
			}
		}
		c.scanned = j + 1
	}
	return out
}
