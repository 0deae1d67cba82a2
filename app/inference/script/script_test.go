package script

import (
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Hello", []string{"Hello"}},
		{"Whisk the eggs.", []string{"Whisk", " the", " eggs."}},
		{"  lead\n\nand  crème brûlée ", []string{"  lead", "\n\nand", "  crème", " brûlée", " "}},
	} {
		got := Split(c.in)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("Split(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("Whisk the eggs, then   fold.\n")
	f.Add("\xff a")
	f.Fuzz(func(t *testing.T, s string) {
		if got := strings.Join(Split(s), ""); got != s {
			t.Fatalf("Split(%q) joined = %q", s, got)
		}
	})
}

func TestFaultsTimes(t *testing.T) {
	var fs Faults
	if f := fs.Next(); f.Kind != None {
		t.Fatalf("zero Faults gave %v", f.Kind)
	}
	fs.Set(Fault{Kind: HTTP500, Times: 2})
	got := []Kind{fs.Next().Kind, fs.Next().Kind, fs.Next().Kind}
	if got[0] != HTTP500 || got[1] != HTTP500 || got[2] != None {
		t.Fatalf("Times 2 gave %v", got)
	}
	fs.Set(Fault{Kind: Cut})
	for range 5 {
		if fs.Next().Kind != Cut {
			t.Fatal("Times 0 must hit every request")
		}
	}
}

func TestRing(t *testing.T) {
	r := NewRing[int](3)
	if _, ok := r.Last(); ok {
		t.Fatal("empty ring has a last value")
	}
	for i := range 5 {
		r.Add(i)
	}
	if got := r.All(); len(got) != 3 || got[0] != 2 || got[2] != 4 {
		t.Fatalf("All = %v", got)
	}
	if v, _ := r.Last(); v != 4 {
		t.Fatalf("Last = %d", v)
	}
}
