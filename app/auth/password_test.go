package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

var fast = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(fast, 2)
	enc, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("encoded = %q", enc)
	}
	enc2, _ := h.Hash(ctx, "correct horse battery")
	if enc == enc2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	ok, rehash, err := h.Verify(ctx, "correct horse battery", enc)
	if err != nil || !ok || rehash {
		t.Fatalf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = h.Verify(ctx, "correct horse batterY", enc)
	if err != nil || ok || rehash {
		t.Fatalf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
	ok, _, _ = h.Verify(ctx, "", enc)
	if ok {
		t.Fatal("empty password verified")
	}
}

func TestDefaultParams(t *testing.T) {
	if DefaultParams.Memory != 19456 || DefaultParams.Iterations != 2 || DefaultParams.Parallelism != 1 {
		t.Fatalf("DefaultParams = %+v", DefaultParams)
	}
	if err := DefaultParams.Validate(); err != nil {
		t.Fatal(err)
	}
	h := NewHasher(Params{}, 0)
	if h.Params() != DefaultParams {
		t.Fatalf("zero Params did not take defaults: %+v", h.Params())
	}
	enc, err := h.Hash(context.Background(), "a long enough pw")
	if err != nil || !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("Hash = %q, %v", enc, err)
	}
	if ok, rehash, err := h.Verify(context.Background(), "a long enough pw", enc); !ok || rehash || err != nil {
		t.Fatalf("Verify = %v %v %v", ok, rehash, err)
	}
}

func TestParamsValidate(t *testing.T) {
	for _, p := range []Params{
		{Memory: 64, Iterations: 0, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Iterations: 1, Parallelism: 0, SaltLen: 16, KeyLen: 32},
		{Memory: 4, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 1 << 30, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 4, KeyLen: 32},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 4},
	} {
		err := p.Validate()
		if flavormonk.ErrorCode(err) != flavormonk.EINVALID {
			t.Errorf("Validate(%+v) = %v, want EINVALID", p, err)
		}
	}
}

func TestRehashWhenParamsChange(t *testing.T) {
	ctx := context.Background()
	old := NewHasher(fast, 1)
	enc, err := old.Hash(ctx, "password123")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Params{
		{Memory: 128, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Iterations: 1, Parallelism: 2, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 64},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 32, KeyLen: 32},
	} {
		h := NewHasher(p, 1)
		ok, rehash, err := h.Verify(ctx, "password123", enc)
		if err != nil || !ok || !rehash {
			t.Errorf("params %+v: Verify = %v, %v, %v; want true, true, nil", p, ok, rehash, err)
		}
		// A wrong password never asks for a rehash.
		if ok, rehash, _ := h.Verify(ctx, "password124", enc); ok || rehash {
			t.Errorf("params %+v: wrong password: ok=%v rehash=%v", p, ok, rehash)
		}
		// The new hash is made with the new parameters and needs no rehash.
		enc2, _ := h.Hash(ctx, "password123")
		if ok, rehash, err := h.Verify(ctx, "password123", enc2); !ok || rehash || err != nil {
			t.Errorf("params %+v: rehashed Verify = %v, %v, %v", p, ok, rehash, err)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(fast, 1)
	good, _ := h.Hash(ctx, "password123")
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	for _, enc := range []string{
		"",
		"$",
		"plaintext-password",
		"$2a$10$abcdefghijklmnopqrstuu5Wn3KxDx6iBl8YjSVJSKOsh7Fu6M7wG", // bcrypt
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1,x=2$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,q=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key,
		"$argon2id$v=19$m=0,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=99999999999,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=-1,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=4000000000,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"$argon2id$v=19$m=64,t=1,p=1$!!!$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "=",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$extra",
		"x$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 5000),
	} {
		ok, rehash, err := h.Verify(ctx, "password123", enc)
		if err == nil || ok || rehash {
			t.Errorf("Verify(%.60q) = %v, %v, %v; want an error", enc, ok, rehash, err)
			continue
		}
		if !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(%.60q) error %v does not wrap ErrMalformedHash", enc, err)
		}
	}
}

func TestVerifyDummy(t *testing.T) {
	h := NewHasher(fast, 1)
	var calls atomic.Int32
	h.hook = func() { calls.Add(1) }
	for range 3 {
		if err := h.VerifyDummy(context.Background(), "password123"); err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 3 {
		t.Fatalf("VerifyDummy computed %d hashes, want 3 (one per call)", calls.Load())
	}
	if _, _, _, err := decodePHC(h.dummy); err != nil {
		t.Fatalf("dummy hash %q: %v", h.dummy, err)
	}
}

// TestConcurrencyCap checks that no more than maxConcurrent hashes run at
// once: each hash blocks in the hook until released, and the test counts
// how many are inside.
func TestConcurrencyCap(t *testing.T) {
	const limit, callers = 3, 12
	h := NewHasher(fast, limit)
	var inside, peak atomic.Int32
	entered := make(chan struct{}, callers)
	release := make(chan struct{})
	h.hook = func() {
		n := inside.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		entered <- struct{}{}
		<-release
		inside.Add(-1)
	}
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = h.Hash(context.Background(), "password123")
			} else {
				err = h.VerifyDummy(context.Background(), "password123")
			}
			errs <- err
		})
	}
	// Exactly limit callers get in; the rest wait.
	for range limit {
		<-entered
	}
	select {
	case <-entered:
		t.Fatal("more than the cap entered the hash")
	case <-time.After(50 * time.Millisecond):
	}
	if got := inside.Load(); got != limit {
		t.Fatalf("inside = %d, want %d", got, limit)
	}
	// A caller whose context ends while waiting gives up with ETIMEOUT.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, err := h.Hash(ctx, "password123")
	cancel()
	if flavormonk.ErrorCode(err) != flavormonk.ETIMEOUT {
		t.Fatalf("Hash with expiring ctx while saturated: %v, want ETIMEOUT", err)
	}
	// And one cancelled gets EUNAVAILABLE.
	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	_, _, err = h.Verify(ctx, "password123", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdHNhbHQ")
	if flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Fatalf("Verify with cancelled ctx while saturated: %v, want EUNAVAILABLE", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p := peak.Load(); p != limit {
		t.Fatalf("peak concurrency = %d, want %d", p, limit)
	}
}

func TestHashCancelledContext(t *testing.T) {
	h := NewHasher(fast, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "password123"); flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Fatalf("Hash(cancelled) = %v, want EUNAVAILABLE", err)
	}
}
