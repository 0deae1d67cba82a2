package replicate

import "io"

// CountEvents reads every event of r, for the benchmark.
func CountEvents(r io.Reader) int {
	d := newSSEReader(r)
	n := 0
	for {
		if _, err := d.Next(); err != nil {
			return n
		}
		n++
	}
}
