package plan

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Admin access limits. SSH (and the k3s API) are opened to adminCidrs; an
// entry wider than these is a mistake or a way around the 0.0.0.0/0 rule
// (two /1s are the whole internet), so the plan refuses it. The same bound
// holds for the set as a whole: all entries together may cover at most one
// /8 of IPv4 and one /32 of IPv6, which a set covering a whole address
// family can never meet.
const (
	MinAdminPrefix4 = 8
	MinAdminPrefix6 = 32
)

// adminCIDRs validates and normalises the admin CIDRs in place.
func adminCIDRs(cidrs []string) error {
	const key = "adminCidrs"
	var v4, v6 []netip.Prefix
	for i, c := range cidrs {
		pr, err := netip.ParsePrefix(c)
		if err != nil {
			return keyErr(key, "%q is not a CIDR like 203.0.113.7/32", c)
		}
		if pr.Bits() == 0 {
			return keyErr(key, "%q would open SSH to the whole internet; list your own addresses", c)
		}
		if pr.Addr().Is4In6() {
			// Firewalls match these as IPv6, never as the IPv4 they name.
			return keyErr(key, "%q is an IPv4-mapped IPv6 range; write it as IPv4, e.g. 203.0.113.0/24", c)
		}
		pr = pr.Masked()
		cidrs[i] = pr.String()
		if pr.Addr().Is4() {
			v4 = append(v4, pr)
		} else {
			v6 = append(v6, pr)
		}
	}
	// The whole-internet check comes first so that a split 0.0.0.0/0 is
	// named for what it is.
	for _, fam := range []struct {
		prefixes []netip.Prefix
		bits     int
		name     string
	}{{v4, 32, "IPv4"}, {v6, 128, "IPv6"}} {
		if covered(fam.prefixes).Cmp(pow2(fam.bits)) == 0 {
			return keyErr(key, "%s together cover every %s address and would open SSH to the whole internet; list your own addresses",
				strings.Join(strs(fam.prefixes), ", "), fam.name)
		}
	}
	for _, fam := range []struct {
		prefixes     []netip.Prefix
		bits, widest int
		name         string
	}{{v4, 32, MinAdminPrefix4, "IPv4"}, {v6, 128, MinAdminPrefix6, "IPv6"}} {
		for _, pr := range fam.prefixes {
			if pr.Bits() < fam.widest {
				return keyErr(key, "%s is wider than /%d, the widest %s range allowed for SSH; list your own addresses", pr, fam.widest, fam.name)
			}
		}
		if n := covered(fam.prefixes); n.Cmp(pow2(fam.bits-fam.widest)) > 0 {
			return keyErr(key, "%s together cover %s %s addresses, more than one /%d (%s); list your own addresses",
				strings.Join(strs(fam.prefixes), ", "), n, fam.name, fam.widest, pow2(fam.bits-fam.widest))
		}
	}
	return nil
}

// covered counts the addresses in the union of prefixes of one family.
// Two prefixes are either disjoint or one holds the other, so the union is
// the sum over the prefixes no other one holds.
func covered(prefixes []netip.Prefix) *big.Int {
	sorted := slices.Clone(prefixes)
	// Widest first, so a prefix is only ever held by one before it.
	slices.SortFunc(sorted, func(a, b netip.Prefix) int { return a.Bits() - b.Bits() })
	var outer []netip.Prefix
	total := new(big.Int)
	for _, pr := range sorted {
		if slices.ContainsFunc(outer, func(o netip.Prefix) bool { return o.Contains(pr.Addr()) }) {
			continue
		}
		outer = append(outer, pr)
		total.Add(total, pow2(pr.Addr().BitLen()-pr.Bits()))
	}
	return total
}

func pow2(n int) *big.Int { return new(big.Int).Lsh(big.NewInt(1), uint(n)) }

func strs[T fmt.Stringer](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return out
}

// sshKeyTypes are the public key types both clouds accept for an SSH key.
var sshKeyTypes = []string{
	ssh.KeyAlgoED25519, ssh.KeyAlgoRSA, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoSKED25519,
}

// whyNotKey says what is wrong with a line ParseAuthorizedKey refused, in
// the terms of the line itself: the parser's own error often describes a
// later attempt (the line read as options followed by a key).
func whyNotKey(k string, err error) string {
	if strings.Contains(k, "PRIVATE KEY") {
		return "this is a private key, which never belongs in config (use the .pub file)"
	}
	f := strings.Fields(k)
	if len(f) < 2 {
		return "expected a key type, the base64 key and an optional comment"
	}
	if !slices.Contains(sshKeyTypes, f[0]) {
		return fmt.Sprintf("it starts with %q, not a key type (%s)", truncate(f[0], 20), strings.Join(sshKeyTypes, ", "))
	}
	raw, derr := base64.StdEncoding.DecodeString(f[1])
	if derr != nil {
		return fmt.Sprintf("the key after %s is not valid base64 (%v)", f[0], derr)
	}
	pk, perr := ssh.ParsePublicKey(raw)
	if perr != nil {
		return fmt.Sprintf("the base64 after %s does not hold a public key (%v)", f[0], perr)
	}
	if pk.Type() != f[0] {
		return fmt.Sprintf("the key is a %s key but is labelled %s", pk.Type(), f[0])
	}
	return err.Error()
}

// sshPublicKey checks one entry of sshPublicKeys the way the clouds will
// when the key is created: a pattern lets through key material that is not
// base64 or not a key, and the failure would come only at `pulumi up`.
func sshPublicKey(i int, k string) error {
	const key = "sshPublicKeys"
	fix := "paste the single line of your key's .pub file (ssh-keygen -t ed25519 makes one)"
	pk, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(k))
	if err != nil {
		return keyErr(key, "entry %d (%q) is not an OpenSSH public key: %s; %s", i+1, truncate(k, 40), whyNotKey(k, err), fix)
	}
	if len(options) > 0 {
		return keyErr(key, "entry %d (%q) carries authorized_keys options (%s), which the clouds do not accept; %s",
			i+1, truncate(k, 40), strings.Join(options, ","), fix)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return keyErr(key, "entry %d (%q) holds more than one key; give each key its own entry", i+1, truncate(k, 40))
	}
	if !slices.Contains(sshKeyTypes, pk.Type()) {
		return keyErr(key, "entry %d (%q, comment %q) is a %s key; allowed: %s", i+1, truncate(k, 40), comment, pk.Type(), strings.Join(sshKeyTypes, ", "))
	}
	return nil
}
