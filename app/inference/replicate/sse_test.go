package replicate

import (
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func readAll(t testing.TB, in string) ([]event, error) {
	t.Helper()
	d := newSSEReader(strings.NewReader(in))
	var evs []event
	for {
		ev, err := d.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func TestSSEReader(t *testing.T) {
	in := ": hi\n\n" +
		"event: output\nid: 0\ndata: Whisk\n\n" +
		"event: output\r\nid: 1\r\ndata:  the\r\n\r\n" + // CRLF; one leading space is the separator's
		"event: output\rdata: two\rdata: lines\r\r" + // CR line ends, two data lines
		"event:output\ndata:no-space\nretry: 10\nunknown: x\n\n" +
		"data: plain\n\n" +
		"event: done\ndata: {}\n\n"
	evs, err := readAll(t, in)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("err %v, want io.EOF", err)
	}
	want := []event{
		{"output", "0", "Whisk"}, {"output", "1", " the"}, {"output", "", "two\nlines"},
		{"output", "", "no-space"}, {"message", "", "plain"}, {"done", "", "{}"},
	}
	if len(evs) != len(want) {
		t.Fatalf("got %d events %+v, want %d", len(evs), evs, len(want))
	}
	for i := range want {
		if evs[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, evs[i], want[i])
		}
	}
}

func TestSSEReaderErrors(t *testing.T) {
	for name, c := range map[string]struct {
		in   string
		want error
	}{
		"cut inside an event": {"event: output\ndata: Whi", io.ErrUnexpectedEOF},
		"cut before blank":    {"event: output\ndata: Whisk\n", io.ErrUnexpectedEOF},
		"invalid UTF-8":       {"event: output\ndata: \xff\xfe\n\n", errInvalidUTF8},
		"line too long":       {"data: " + strings.Repeat("x", maxEvent+1) + "\n\n", errEventTooLarge},
		"event too large":     {strings.Repeat("data: "+strings.Repeat("x", 1000)+"\n", maxEvent/1000+2) + "\n", errEventTooLarge},
	} {
		if _, err := readAll(t, c.in); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", name, err, c.want)
		}
	}
}

// encode writes events as Replicate's server does.
func encode(evs []event) string {
	var b strings.Builder
	for _, ev := range evs {
		b.WriteString("event: " + ev.Type + "\n")
		if ev.ID != "" {
			b.WriteString("id: " + ev.ID + "\n")
		}
		for _, line := range strings.Split(ev.Data, "\n") {
			b.WriteString("data: " + line + "\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func FuzzSSEReader(f *testing.F) {
	f.Add("event: output\ndata: hi\n\n")
	f.Add("event: output\r\ndata:  x\r\n\r\n: c\n\nevent: done\ndata: {}\n\n")
	f.Add("data\n\nid: \x00\n\n\r\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		evs, err := readAll(t, in)
		if err == nil {
			t.Fatal("readAll ended without an error")
		}
		for _, ev := range evs {
			if !utf8.ValidString(ev.Data) || len(ev.Data) > maxEvent || ev.Type == "" {
				t.Fatalf("bad event %+v", ev)
			}
		}
	})
}

func FuzzSSERoundTrip(f *testing.F) {
	f.Add("output", " crème", "output", "\n\nline")
	f.Add("error", `{"detail":"x"}`, "done", "{}")
	f.Fuzz(func(t *testing.T, t1, d1, t2, d2 string) {
		in := []event{{Type: t1, Data: d1}, {Type: t2, Data: d2}}
		for _, ev := range in {
			if ev.Type == "" || strings.ContainsAny(ev.Type, "\r\n") || strings.ContainsRune(ev.Data, '\r') ||
				!utf8.ValidString(ev.Data) || !utf8.ValidString(ev.Type) {
				return
			}
		}
		got, err := readAll(t, encode(in))
		if !errors.Is(err, io.EOF) || len(got) != 2 || got[0] != in[0] || got[1] != in[1] {
			t.Fatalf("round trip of %+v gave %+v, %v", in, got, err)
		}
	})
}
