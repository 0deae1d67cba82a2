package auth

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" means an error
	}{
		{"alice@example.com", "alice@example.com"},
		{"  Alice@Example.COM \n", "alice@example.com"},
		{"a.b+tag@mail.example.co.uk", "a.b+tag@mail.example.co.uk"},
		{"ÉLodie@exämple.fr", "élodie@exämple.fr"},
		{"", ""},
		{"   ", ""},
		{"alice", ""},
		{"alice@", ""},
		{"@example.com", ""},
		{"alice@localhost", ""},
		{"alice@example.", ""},
		{"alice@.example.com", ""},
		{"alice@example..com", ""},
		{"alice@[127.0.0.1]", ""},
		{"Alice <alice@example.com>", ""},
		{"<alice@example.com>", ""},
		{"alice@example.com, bob@example.com", ""},
		{"alice@example.com (comment)", ""},
		{`"alice"@example.com`, ""},
		{`"al ice"@example.com`, ""},
		{"al ice@example.com", ""},
		{"alice@exa mple.com", ""},
		{"alice@example.com\r\nBcc: x@y.z", ""},
		{"alice\x00@example.com", ""},
		{"alice@example.com\xff", ""},
		{"\xc3\x28@example.com", ""},
		{strings.Repeat("a", 65) + "@example.com", ""},
		{strings.Repeat("a", 10*1024) + "@example.com", ""},
		{"a@" + strings.Repeat("b", 250) + ".com", ""},
	} {
		got, err := NormalizeEmail(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("NormalizeEmail(%.40q) = %q, want an error", tc.in, got)
				continue
			}
			var fe *flavormonk.Error
			if !errors.As(err, &fe) || fe.Code != flavormonk.EINVALID || fe.Field != "email" || fe.Message == "" {
				t.Errorf("NormalizeEmail(%.40q) error = %#v, want EINVALID on field email", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// The length limit is exactly 254 bytes.
	at254 := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com"
	if len(at254) != 254 {
		t.Fatalf("len = %d", len(at254))
	}
	if got, err := NormalizeEmail(at254); err != nil || got != at254 {
		t.Errorf("254-byte email: %q, %v", got, err)
	}
	if _, err := NormalizeEmail("a" + at254); err == nil {
		t.Error("255-byte email accepted")
	}
	// Messages are clear.
	_, err := NormalizeEmail(strings.Repeat("x", 10*1024))
	if !strings.Contains(flavormonk.ErrorMessage(err), "too long") {
		t.Errorf("10 KB email message = %q", flavormonk.ErrorMessage(err))
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ok      bool
		message string
	}{
		{"0123456789", true, ""},
		{"correct horse battery staple", true, ""},
		{"éééééééééé", true, ""}, // 10 characters, 20 bytes
		{"🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑", true, ""},
		{strings.Repeat("x", 128), true, ""},
		{strings.Repeat("é", 128), true, ""},
		{"", false, "too short"},
		{"012345678", false, "too short"},
		{"ééééééééé", false, "too short"},
		{strings.Repeat("x", 129), false, "too long"},
		{strings.Repeat("é", 129), false, "too long"},
		{strings.Repeat("x", 10*1024), false, "too long"},
		{"0123456789\xff", false, "UTF-8"},
		{"\xc3\x280123456789", false, "UTF-8"},
	} {
		err := CheckPassword(tc.in)
		if tc.ok {
			if err != nil {
				t.Errorf("CheckPassword(%.20q) = %v", tc.in, err)
			}
			continue
		}
		var fe *flavormonk.Error
		if !errors.As(err, &fe) || fe.Code != flavormonk.EINVALID || fe.Field != "password" {
			t.Errorf("CheckPassword(%.20q) = %#v, want EINVALID on field password", tc.in, err)
			continue
		}
		if !strings.Contains(fe.Message, tc.message) {
			t.Errorf("CheckPassword(%.20q) message %q, want it to mention %q", tc.in, fe.Message, tc.message)
		}
		if strings.Contains(fe.Error(), tc.in) && tc.in != "" {
			t.Errorf("CheckPassword error echoes the password")
		}
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"alice@example.com", " Bob@Example.Org ", "Alice <a@b.c>", "a@b", "\xff@x.y",
		`"q"@x.y`, "a@[1.2.3.4]", "İ@x.y", "ǅ@x.y", "a..b@x.y", "a@b.c (c)", "=?utf-8?q?x?= <a@b.c>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeEmail(s)
		if err != nil {
			var fe *flavormonk.Error
			if !errors.As(err, &fe) || fe.Code != flavormonk.EINVALID || fe.Field != "email" {
				t.Fatalf("NormalizeEmail(%q) error %#v is not EINVALID/email", s, err)
			}
			if got != "" {
				t.Fatalf("NormalizeEmail(%q) returned %q with an error", s, got)
			}
			return
		}
		if len(got) > MaxEmailLen || !utf8.ValidString(got) || strings.ToLower(got) != got ||
			strings.TrimSpace(got) != got || strings.Count(got, "@") < 1 {
			t.Fatalf("NormalizeEmail(%q) = %q breaks an invariant", s, got)
		}
		if strings.ContainsAny(got, "<>, \r\n\x00") {
			t.Fatalf("NormalizeEmail(%q) = %q contains a separator", s, got)
		}
		again, err := NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, got, again, err)
		}
	})
}
