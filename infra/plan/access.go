package plan

import (
	"crypto/rsa"
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
// (two /1s are the whole internet; a /8 or a /32 of IPv6 is a cloud's
// tenant space, anyone's machine), so the plan refuses it. The same bound
// holds for the set as a whole: all entries together may cover at most one
// /16 of IPv4 and one /48 of IPv6 (a site's allocation), which a set
// covering a whole address family can never meet.
const (
	MinAdminPrefix4 = 16
	MinAdminPrefix6 = 48
)

// tunnelRanges are IPv6 ranges whose addresses stand for IPv4 hosts or
// relays anyone can use: opening SSH to (part of) one opens it to whoever
// tunnels or translates through it, whatever the prefix length.
var tunnelRanges = []struct {
	prefix netip.Prefix
	name   string
}{
	{netip.MustParsePrefix("2001::/32"), "Teredo (2001::/32)"},
	{netip.MustParsePrefix("2002::/16"), "6to4 (2002::/16)"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64 (64:ff9b::/96)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64 (64:ff9b:1::/48)"},
}

// adminCIDRs validates and normalises the admin CIDRs: masked to their
// network address, sorted (IPv4 first, then by address and length) and
// without repeats, so that two spellings of one range make one firewall
// entry and reordering the config changes no rule.
func adminCIDRs(cidrs []string) ([]string, error) {
	const key = "adminCidrs"
	var v4, v6 []netip.Prefix
	for _, c := range cidrs {
		pr, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, keyErr(key, "%q is not a CIDR like 203.0.113.7/32", c)
		}
		if pr.Bits() == 0 {
			return nil, keyErr(key, "%q would open SSH to the whole internet; list your own addresses", c)
		}
		if pr.Addr().Is4In6() {
			// Firewalls match these as IPv6, never as the IPv4 they name.
			return nil, keyErr(key, "%q is an IPv4-mapped IPv6 range; write it as IPv4, e.g. 203.0.113.0/24", c)
		}
		pr = pr.Masked()
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
			return nil, keyErr(key, "%s together cover every %s address and would open SSH to the whole internet; list your own addresses",
				strings.Join(strs(fam.prefixes), ", "), fam.name)
		}
	}
	for _, pr := range v6 {
		for _, t := range tunnelRanges {
			if pr.Overlaps(t.prefix) {
				return nil, keyErr(key, "%s overlaps the %s range, whose addresses tunnel or translate for any IPv4 host; list your own addresses",
					pr, t.name)
			}
		}
	}
	for _, fam := range []struct {
		prefixes     []netip.Prefix
		bits, widest int
		name         string
	}{{v4, 32, MinAdminPrefix4, "IPv4"}, {v6, 128, MinAdminPrefix6, "IPv6"}} {
		for _, pr := range fam.prefixes {
			if pr.Bits() < fam.widest {
				return nil, keyErr(key, "%s is wider than /%d, the widest %s range allowed for SSH; list your own addresses", pr, fam.widest, fam.name)
			}
		}
		if n := covered(fam.prefixes); n.Cmp(pow2(fam.bits-fam.widest)) > 0 {
			return nil, keyErr(key, "%s together cover %s %s addresses, more than one /%d (%s); list your own addresses",
				strings.Join(strs(fam.prefixes), ", "), n, fam.name, fam.widest, pow2(fam.bits-fam.widest))
		}
	}
	all := append(v4, v6...)
	slices.SortFunc(all, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return strs(slices.Compact(all)), nil
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
		return fmt.Sprintf("it starts with %q, not an accepted key type (accepted: %s)", truncate(f[0], 20), strings.Join(sshKeyTypes, ", "))
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

// MinRSABits is the smallest RSA key the plan accepts: shorter ones are
// breakable and OpenSSH itself refuses RSA keys under 1024 bits.
const MinRSABits = 2048

// sshPublicKey checks one entry of sshPublicKeys the way the clouds will
// when the key is created: a pattern lets through key material that is not
// base64 or not a key, and the failure would come only at `pulumi up`. It
// returns the key, for the duplicate check.
func sshPublicKey(i int, k string) (ssh.PublicKey, error) {
	const key = "sshPublicKeys"
	fix := "paste the single line of your key's .pub file (ssh-keygen -t ed25519 makes one)"
	// The parser skips comment and blank lines, so "# note\nssh-ed25519 …"
	// would pass while the whole text, comment included, went to the cloud.
	if strings.ContainsAny(k, "\n\r") {
		return nil, keyErr(key, "entry %d (%q) spans more than one line (a comment line or a second key?); %s, one key per entry",
			i+1, truncate(k, 40), fix)
	}
	pk, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(k))
	if err != nil {
		return nil, keyErr(key, "entry %d (%q) is not an OpenSSH public key: %s; %s", i+1, truncate(k, 40), whyNotKey(k, err), fix)
	}
	if len(options) > 0 {
		return nil, keyErr(key, "entry %d (%q) carries authorized_keys options (%s), which the clouds do not accept; %s",
			i+1, truncate(k, 40), strings.Join(options, ","), fix)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, keyErr(key, "entry %d (%q) holds more than one key; give each key its own entry", i+1, truncate(k, 40))
	}
	if !slices.Contains(sshKeyTypes, pk.Type()) {
		return nil, keyErr(key, "entry %d (%q, comment %q) is a %s key, not an accepted key type (accepted: %s)",
			i+1, truncate(k, 40), comment, pk.Type(), strings.Join(sshKeyTypes, ", "))
	}
	if cpk, ok := pk.(ssh.CryptoPublicKey); ok {
		if r, ok := cpk.CryptoPublicKey().(*rsa.PublicKey); ok && r.N.BitLen() < MinRSABits {
			return nil, keyErr(key, "entry %d (%q, comment %q) is a %d-bit RSA key; RSA keys need at least %d bits (ssh-keygen -t ed25519 makes a better key)",
				i+1, truncate(k, 40), comment, r.N.BitLen(), MinRSABits)
		}
	}
	return pk, nil
}

// sshPublicKeys checks every entry and refuses a key listed twice: both
// clouds name the key's resource after its type and body, so a repeat
// (whatever its comment) is a duplicate resource and fails the preview.
func sshPublicKeys(keys []string) error {
	seen := map[string]int{}
	for i, k := range keys {
		pk, err := sshPublicKey(i, k)
		if err != nil {
			return err
		}
		body := string(pk.Marshal())
		if j, ok := seen[body]; ok {
			return keyErr("sshPublicKeys", "entry %d repeats entry %d (the same key, whatever the comment); list each key once", i+1, j+1)
		}
		seen[body] = i
	}
	return nil
}
