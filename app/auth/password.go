// Package auth holds the pure logic behind accounts: password hashing,
// input validation, tokens, CSRF and sealing. It does no HTTP and touches
// no store; log-in throttling is in package limit.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Params are argon2id parameters.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32 // bytes
	KeyLen      uint32 // bytes
}

// DefaultParams follow the OWASP recommendation for argon2id
// (m=19 MiB, t=2, p=1).
var DefaultParams = Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// Limits on parameters, both configured and read from stored hashes, so a
// corrupt or hostile hash cannot make a verification take gigabytes or
// minutes.
const (
	maxMemory     = 1 << 20 // KiB = 1 GiB
	maxIterations = 64
	maxSaltLen    = 256
	maxKeyLen     = 256
)

// Validate reports whether p can be used: EINVALID (field "argon2") if not.
func (p Params) Validate() error {
	switch {
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "argon2", "iterations must be between 1 and %d, not %d", maxIterations, p.Iterations)
	case p.Parallelism < 1:
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "argon2", "parallelism must be at least 1")
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxMemory:
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "argon2", "memory must be between %d and %d KiB, not %d", 8*uint32(p.Parallelism), maxMemory, p.Memory)
	case p.SaltLen < 8 || p.SaltLen > maxSaltLen:
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "argon2", "salt length must be between 8 and %d bytes, not %d", maxSaltLen, p.SaltLen)
	case p.KeyLen < 16 || p.KeyLen > maxKeyLen:
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "argon2", "key length must be between 16 and %d bytes, not %d", maxKeyLen, p.KeyLen)
	}
	return nil
}

// ErrMalformedHash is returned (wrapped) by Verify for a stored hash that is
// not an argon2id PHC string this package can check. It is an internal
// error: stored data is corrupt, the user did nothing wrong.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// Hasher hashes and verifies passwords with argon2id. A semaphore caps the
// number of hashes computed at once, since each takes Params.Memory KiB: a
// burst of log-ins waits (until its context ends) instead of exhausting
// memory. A Hasher is safe for concurrent use.
type Hasher struct {
	params Params
	sem    chan struct{}

	dummyOnce sync.Once
	dummy     string

	// hook, when set (by tests), runs while a hash is computed, holding a
	// semaphore slot.
	hook func()

	computed atomic.Int64
}

// Computed returns how many hashes (for Hash, Verify and VerifyDummy) the
// Hasher has computed.
func (h *Hasher) Computed() int64 { return h.computed.Load() }

// NewHasher returns a Hasher that hashes with p and computes at most
// maxConcurrent hashes at once (at least 1). Zero fields of p take their
// value from DefaultParams; NewHasher panics if p is then invalid, so
// validate configured parameters with Params.Validate first.
func NewHasher(p Params, maxConcurrent int) *Hasher {
	if p.Memory == 0 {
		p.Memory = DefaultParams.Memory
	}
	if p.Iterations == 0 {
		p.Iterations = DefaultParams.Iterations
	}
	if p.Parallelism == 0 {
		p.Parallelism = DefaultParams.Parallelism
	}
	if p.SaltLen == 0 {
		p.SaltLen = DefaultParams.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = DefaultParams.KeyLen
	}
	if err := p.Validate(); err != nil {
		panic("auth.NewHasher: " + err.Error())
	}
	if maxConcurrent < 1 {
		maxConcurrent = 1
	}
	return &Hasher{params: p, sem: make(chan struct{}, maxConcurrent)}
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// acquire takes a semaphore slot or fails when ctx ends first: ETIMEOUT
// when its deadline passed, EUNAVAILABLE when it was cancelled.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return busy(err)
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return busy(ctx.Err())
	}
}

func (h *Hasher) release() { <-h.sem }

func busy(err error) error {
	code := flavormonk.EUNAVAILABLE
	if errors.Is(err, context.DeadlineExceeded) {
		code = flavormonk.ETIMEOUT
	}
	return fmt.Errorf("auth: waiting to hash a password: %w: %w", err,
		flavormonk.Errorf(code, "the server is busy signing people in; try again in a moment"))
}

func (h *Hasher) key(password string, salt []byte, p Params) []byte {
	h.computed.Add(1)
	if h.hook != nil {
		h.hook()
	}
	return argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
}

// Hash returns the argon2id hash of password as a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded standard base64).
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: reading salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	key := h.key(password, salt, h.params)
	return encodePHC(h.params, salt, key), nil
}

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// decodePHC parses an argon2id PHC string. It never panics and bounds every
// parameter.
func decodePHC(encoded string) (p Params, salt, key []byte, err error) {
	bad := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, why)
	}
	if len(encoded) > 2048 {
		return bad("too long")
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("not a PHC string")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return bad("want parameters m, t and p")
	}
	var seen [3]bool
	for _, f := range fields {
		name, value, ok := strings.Cut(f, "=")
		if !ok {
			return bad("parameter without a value")
		}
		n, perr := strconv.ParseUint(value, 10, 32)
		if perr != nil {
			return bad("parameter " + name + " is not a number")
		}
		switch name {
		case "m":
			p.Memory, seen[0] = uint32(n), true
		case "t":
			p.Iterations, seen[1] = uint32(n), true
		case "p":
			if n > 255 {
				return bad("parallelism out of range")
			}
			p.Parallelism, seen[2] = uint8(n), true
		default:
			return bad("unknown parameter " + name)
		}
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return bad("want parameters m, t and p")
	}
	if salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil {
		return bad("salt is not base64")
	}
	if key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil {
		return bad("hash is not base64")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if verr := p.Validate(); verr != nil {
		return bad(verr.Error())
	}
	return p, salt, key, nil
}

// Verify reports whether password matches the PHC string encoded, comparing
// in constant time, and whether the hash should be replaced because it was
// made with other parameters than the Hasher's (rehash on log-in). A
// malformed encoded is an error wrapping ErrMalformedHash, never a panic.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	p, salt, key, err := decodePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	got := h.key(password, salt, p)
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

// VerifyDummy does the work of a Verify against a hash no password matches,
// for log-ins to unknown accounts, so that the response time does not tell
// which emails have accounts. It only fails as Verify's wait does.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	h.dummyOnce.Do(func() {
		salt := make([]byte, h.params.SaltLen)
		key := make([]byte, h.params.KeyLen)
		_, _ = rand.Read(salt)
		_, _ = rand.Read(key) // random: no password maps to it
		h.dummy = encodePHC(h.params, salt, key)
	})
	_, _, err := h.Verify(ctx, password, h.dummy)
	return err
}
