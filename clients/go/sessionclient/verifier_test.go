package sessionclient

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The token profile is declared in the wire contract (session_wire/token_profile.py);
// this client's copy must say the same.
func TestTokenProfileMatchesTheWireContract(t *testing.T) {
	source, err := os.ReadFile("../../../wire/session_wire/token_profile.py")
	if err != nil {
		t.Skip("not inside the session-service repository:", err)
	}
	text := string(source)
	tuple := func(name string) []string {
		m := regexp.MustCompile(name + `: tuple\[str, \.\.\.\] = \(([^)]*)\)`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("%s not found in token_profile.py", name)
		}
		return regexp.MustCompile(`"([^"]+)"`).FindAllString(m[1], -1)
	}
	quoted := func(values []string) string { return `"` + strings.Join(values, `" "`) + `"` }
	if got, want := quoted(SupportedAlgorithms), strings.Join(tuple("SUPPORTED_ALGORITHMS"), " "); got != want {
		t.Errorf("SupportedAlgorithms %s, the contract says %s", got, want)
	}
	if got, want := quoted(RequiredClaims), strings.Join(tuple("REQUIRED_CLAIMS"), " "); got != want {
		t.Errorf("RequiredClaims %s, the contract says %s", got, want)
	}
	if !strings.Contains(text, `TOKEN_TYPE = "`+TokenType+`"`) {
		t.Errorf("TokenType %q differs from the contract", TokenType)
	}
	if !strings.Contains(text, "DEFAULT_LEEWAY_S = "+strings.TrimSuffix(DefaultLeeway.String(), "s")+"\n") {
		t.Errorf("DefaultLeeway %v differs from the contract", DefaultLeeway)
	}
}

// The DPoP algorithms are the wire contract's (DPOP_ALGORITHMS) except "Ed25519", the
// fully specified name go-jose does not know.
func TestDPoPAlgorithmsMatchTheWireContract(t *testing.T) {
	source, err := os.ReadFile("../../../wire/session_wire/dpop.py")
	if err != nil {
		t.Skip("not inside the session-service repository:", err)
	}
	m := regexp.MustCompile(`DPOP_ALGORITHMS: tuple\[str, \.\.\.\] = \(([^)]*)\)`).FindSubmatch(source)
	if m == nil {
		t.Fatal("DPOP_ALGORITHMS not found in dpop.py")
	}
	var contract []string
	for _, quoted := range regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(string(m[1]), -1) {
		if quoted[1] != "Ed25519" {
			contract = append(contract, quoted[1])
		}
	}
	if strings.Join(contract, " ") != strings.Join(DPoPAlgorithms, " ") {
		t.Errorf("DPoPAlgorithms %v, the contract says %v (without Ed25519)", DPoPAlgorithms, contract)
	}
}

func TestCnfClaimsAreReadNotRefused(t *testing.T) {
	now := time.Now()
	v := NewVerifier(nil, VerifierOptions{})
	claims := map[string]any{
		"iss": "session-service", "aud": "internal", "sub": "u", "sid": "s", "jti": "j",
		"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Unix() + 60),
		"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", "x5t#S256": "x5t"},
	}
	verified, err := v.checkClaims(claims)
	if err != nil {
		t.Fatal(err)
	}
	if verified.CnfJKT != "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" || verified.CnfX5T != "x5t" {
		t.Fatalf("cnf read as %q %q", verified.CnfJKT, verified.CnfX5T)
	}
	if err := v.checkDPoP("token", verified, nil); !errors.Is(err, ErrDpopBindingMismatch) {
		t.Fatalf("a bound token without a proof gave %v", err)
	}
	if err := checkCertificate(verified, nil); !errors.Is(err, ErrCertificateBindingMismatch) {
		t.Fatalf("a certificate-bound token without a certificate gave %v", err)
	}
}

// The normalisation of session_wire.dpop.normalize_htu.
func TestHTUIsComparedWithoutQueryFragmentCaseOrDefaultPort(t *testing.T) {
	for uri, want := range map[string]string{
		"https://API.example.com/orders?page=2#top": "https://api.example.com/orders",
		"HTTPS://api.example.com:443":               "https://api.example.com/",
		"http://api.example.com:80/a":               "http://api.example.com/a",
		"http://api.example.com:8080/a":             "http://api.example.com:8080/a",
		" https://[::1]:8443/x ":                    "https://[::1]:8443/x",
	} {
		if got, err := normalizeHTU(uri); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", uri, got, err, want)
		}
	}
	for _, uri := range []string{"/orders", "ftp://example.com/", "https:///x", "https://example.com:99999/"} {
		if _, err := normalizeHTU(uri); !errors.Is(err, ErrInvalidDpopProof) {
			t.Errorf("%q gave %v", uri, err)
		}
	}
}

func TestSeenProofsRemembersWithinTheWindowAndStaysBounded(t *testing.T) {
	now := time.Now()
	seen := newSeenProofs(2, time.Minute)
	if !seen.firstUse("a", now) || seen.firstUse("a", now.Add(59*time.Second)) {
		t.Fatal("a proof seen within the window passed twice")
	}
	if !seen.firstUse("a", now.Add(61*time.Second)) {
		t.Fatal("a proof past its window is still remembered")
	}
	seen.firstUse("b", now)
	seen.firstUse("c", now)
	if seen.order.Len() != 2 || len(seen.byKey) != 2 {
		t.Fatalf("%d proofs remembered, at most 2 wanted", seen.order.Len())
	}
}
