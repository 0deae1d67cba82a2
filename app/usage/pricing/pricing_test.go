package pricing

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

func TestParse(t *testing.T) {
	tb, err := Parse(" openai/gpt-4o-mini = in:0.15 , out:0.60 ; replicate/meta/meta-llama-3-70b-instruct=in:0.65,out:2.75;ollama/*=FREE;; modal/llama3.1:8b@v2=sec:0.000583;")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		provider, model string
		want            Price
		known           bool
	}{
		{"openai", "gpt-4o-mini", Price{In: 150_000, Out: 600_000}, true},
		{"OpenAI", "gpt-4o-mini", Price{In: 150_000, Out: 600_000}, true},
		{"replicate", "meta/meta-llama-3-70b-instruct", Price{In: 650_000, Out: 2_750_000}, true},
		{"ollama", "llama3.1:8b", Price{}, true},
		{"modal", "llama3.1:8b@v2", Price{Sec: 583_000}, true},
		{"openai", "gpt-5", Price{In: 650_000, Out: 2_750_000, Sec: 583_000}, false},
	} {
		p, known := tb.Lookup(c.provider, c.model)
		if p != c.want || known != c.known {
			t.Errorf("Lookup(%s, %s) = %+v, %v; want %+v, %v", c.provider, c.model, p, known, c.want, c.known)
		}
	}
	if got, want := tb.String(), "modal/llama3.1:8b@v2=sec:0.000583;ollama/*=free;openai/gpt-4o-mini=in:0.15,out:0.6;replicate/meta/meta-llama-3-70b-instruct=in:0.65,out:2.75"; got != want {
		t.Errorf("String = %s\nwant %s", got, want)
	}
	if e, err := Parse(""); err != nil || e.Len() != 0 {
		t.Errorf("Parse(\"\") = %v, %v", e, err)
	}
}

func TestParseInvalid(t *testing.T) {
	for _, s := range []string{
		"openai/gpt-4o-mini",                // no '='
		"gpt-4o-mini=in:1",                  // no provider
		"openai/=in:1",                      // no model
		"/x=in:1",                           // empty provider
		"open ai/x=in:1",                    // space in provider
		"openai/gpt 4=in:1",                 // space in model
		"openai/x=",                         // no price
		"openai/x=in",                       // no value
		"openai/x=in:",                      // empty value
		"openai/x=in:-1",                    // negative
		"openai/x=in:+1",                    // sign
		"openai/x=in:1e3",                   // exponent
		"openai/x=in:1.",                    // dangling dot
		"openai/x=in:.5",                    // no whole part
		"openai/x=in:0.1234567",             // 7 decimals
		"openai/x=sec:0.0000000001",         // 10 decimals
		"openai/x=in:1000001",               // over the cap
		"openai/x=in:99999999999999999999",  // overflow
		"openai/x=in:1,in:2",                // twice
		"openai/x=cached:1",                 // unknown kind
		"openai/x=in:1;openai/x=out:1",      // priced twice
		"openai/x=in:1;OPENAI/x=out:1",      // priced twice, provider case
		"openai/x=in:1,,out:1",              // empty part
		"openai/x=in:NaN",                   // not a number
		"openai/x=in:1;junk",                // junk entry
		"openai/x=in:1,5",                   // comma decimal
		"openai/x=in:１",                     // non-ASCII digit
		strings.Repeat("a", MaxSpecBytes+1), // too long
	} {
		_, err := Parse(s)
		var fe *flavormonk.Error
		if err == nil || flavormonk.ErrorCode(err) != flavormonk.EINVALID {
			t.Errorf("Parse(%q) = %v; want EINVALID", s, err)
		} else if errors.As(err, &fe); fe.Field != "FLAVORMONK_PRICES" {
			t.Errorf("Parse(%q) error field = %q", s, fe.Field)
		}
	}
	var many strings.Builder
	for i := 0; i <= MaxEntries; i++ {
		fmt.Fprintf(&many, "p/m%d=free;", i)
	}
	if _, err := Parse(many.String()); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Errorf("Parse of %d entries = %v; want EINVALID", MaxEntries+1, err)
	}
}

func TestNewMergesDefaults(t *testing.T) {
	tb, err := New("openai/gpt-4o-mini=in:0.2,out:0.8;openai-compatible/qwen=sec:0.001")
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := tb.Lookup("openai", "gpt-4o-mini"); !ok || p != (Price{In: 200_000, Out: 800_000}) {
		t.Errorf("override = %+v, %v", p, ok)
	}
	if p, ok := tb.Lookup("replicate", "meta/meta-llama-3-70b-instruct"); !ok || p != (Price{In: 650_000, Out: 2_750_000}) {
		t.Errorf("default kept = %+v, %v", p, ok)
	}
	for _, name := range []string{"offline", "ollama"} {
		if c, ok := tb.Cost(name, "anything", flavormonk.Usage{InputTokens: 1e6, OutputTokens: 1e6}); c != 0 || !ok {
			t.Errorf("%s costs %d, known %v; want free", name, c, ok)
		}
	}
	// Unknown models cost the most expensive known price of each kind.
	c, known := tb.Cost("openai-compatible", "mystery", flavormonk.Usage{InputTokens: 1e6, OutputTokens: 1e6, Seconds: 2})
	if known || c != 2_500_000+10_000_000+2_000 {
		t.Errorf("unknown model costs %d, known %v; want 12502000, false", c, known)
	}
	if _, err := New("nonsense"); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Errorf("New(nonsense) = %v", err)
	}
}

func TestCost(t *testing.T) {
	tb, err := Parse("openai/gpt-4o-mini=in:0.15,out:0.60;replicate/gpu=sec:0.0014;x/cheap=in:0.000001")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		provider, model string
		u               flavormonk.Usage
		want            int64
	}{
		{"openai", "gpt-4o-mini", flavormonk.Usage{InputTokens: 1000, OutputTokens: 200}, 150 + 120},
		{"openai", "gpt-4o-mini", flavormonk.Usage{InputTokens: 1, OutputTokens: 1}, 1 + 1}, // rounded up per kind
		{"openai", "gpt-4o-mini", flavormonk.Usage{}, 0},
		{"openai", "gpt-4o-mini", flavormonk.Usage{InputTokens: -5, OutputTokens: -1}, 0},
		{"replicate", "gpu", flavormonk.Usage{Seconds: 2.5, InputTokens: 1e6}, 3500},
		{"replicate", "gpu", flavormonk.Usage{Seconds: math.NaN()}, 0},
		{"replicate", "gpu", flavormonk.Usage{Seconds: math.Inf(1)}, math.MaxInt64},
		{"replicate", "gpu", flavormonk.Usage{Seconds: 1e300}, math.MaxInt64},
		{"x", "cheap", flavormonk.Usage{InputTokens: math.MaxInt}, 9_223_372_036_855},
	} {
		if got, _ := tb.Cost(c.provider, c.model, c.u); got != c.want {
			t.Errorf("Cost(%s/%s, %+v) = %d; want %d", c.provider, c.model, c.u, got, c.want)
		}
	}
	big, _ := Parse("x/y=in:1000000,out:1000000")
	if got, _ := big.Cost("x", "y", flavormonk.Usage{InputTokens: math.MaxInt, OutputTokens: math.MaxInt}); got != math.MaxInt64 {
		t.Errorf("huge cost = %d; want saturation", got)
	}
	if got := tb.Worst("openai", "gpt-4o-mini", 2000, 1024, 90); got != 300+615 {
		t.Errorf("Worst = %d; want 915", got)
	}
	if got := tb.Worst("replicate", "gpu", 2000, 1024, 90); got != 126_000 {
		t.Errorf("Worst per second = %d; want 126000", got)
	}
}

func TestFixed(t *testing.T) {
	for _, c := range []struct {
		s    string
		dec  int
		want int64
	}{{"0", 6, 0}, {"0.15", 6, 150_000}, {"2.75", 6, 2_750_000}, {"007.5", 6, 7_500_000}, {"0.000000001", 9, 1}, {"1000000", 9, 1e15}} {
		got, err := ParseFixed(c.s, c.dec, maxUSD)
		if err != nil || got != c.want {
			t.Errorf("ParseFixed(%q, %d) = %d, %v; want %d", c.s, c.dec, got, err, c.want)
		}
	}
	for _, c := range []struct {
		s   string
		dec int
	}{{"1000000.1", 9}, {"1000000.000001", 6}, {"1000001", 0}, {"99999999999999999999", 6}} {
		if got, err := ParseFixed(c.s, c.dec, maxUSD); err == nil {
			t.Errorf("ParseFixed(%q, %d) = %d, over the bound of %d", c.s, c.dec, got, maxUSD)
		}
	}
	if got, err := ParseFixed("1000000.000", 9, maxUSD); err != nil || got != 1e15 {
		t.Errorf("ParseFixed of the bound itself = %d, %v", got, err)
	}
	if s := FormatFixed(2_750_000, 6); s != "2.75" {
		t.Errorf("FormatFixed = %s", s)
	}
	if s := FormatFixed(1, 9); s != "0.000000001" {
		t.Errorf("FormatFixed = %s", s)
	}
}

// FuzzParse: Parse never panics; what it accepts renders to a spec that
// parses to the same table; costs never go negative.
func FuzzParse(f *testing.F) {
	for _, s := range []string{Defaults, "", "openai/gpt-4o-mini=in:0.15,out:0.60", "a/*=free;b/c:d=sec:0.000000001",
		"x/y=in:1000000,out:1000000,sec:1000000", "x/y=in:1.", ";;;", "a/b=in:1;a/b=in:2", "p/m=in:0.1234567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tb, err := Parse(s)
		if err != nil {
			if flavormonk.ErrorCode(err) != flavormonk.EINVALID {
				t.Fatalf("Parse(%q) error %v is not EINVALID", s, err)
			}
			return
		}
		again, err := Parse(tb.String())
		if err != nil {
			t.Fatalf("Parse(String()) of %q: %v (rendered %q)", s, err, tb.String())
		}
		if !reflect.DeepEqual(tb.prices, again.prices) || tb.max != again.max {
			t.Fatalf("round trip of %q changed the table: %v vs %v", s, tb.prices, again.prices)
		}
		for k := range tb.prices {
			provider, model, _ := strings.Cut(k, "/")
			c, known := tb.Cost(provider, model, flavormonk.Usage{InputTokens: math.MaxInt32, OutputTokens: 1, Seconds: 3.5})
			if c < 0 || !known {
				t.Fatalf("Cost(%s) = %d, %v", k, c, known)
			}
		}
	})
}

// FuzzParseFixed: amounts that parse render back to themselves (up to
// leading and trailing zeros) and stay within their bound.
func FuzzParseFixed(f *testing.F) {
	for _, s := range []string{"0", "0.15", "1000000", "007.50", "1.", ".5", "-1", "1e3", "0.0000001", "99999999999999999999"} {
		f.Add(s, uint8(6))
	}
	f.Fuzz(func(t *testing.T, s string, dec uint8) {
		d := int(dec % 10)
		v, err := ParseFixed(s, d, maxUSD)
		if err != nil {
			return
		}
		if v < 0 || v > maxUSD*int64(math.Pow10(d)) {
			t.Fatalf("ParseFixed(%q, %d) = %d: out of bounds", s, d, v)
		}
		again, err := ParseFixed(FormatFixed(v, d), d, maxUSD)
		if err != nil || again != v {
			t.Fatalf("ParseFixed(FormatFixed(%d)) = %d, %v", v, again, err)
		}
	})
}
