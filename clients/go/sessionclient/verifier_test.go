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

func TestDpopBoundTokenIsRefusedByAPlainVerify(t *testing.T) {
	now := time.Now()
	v := NewVerifier(nil, VerifierOptions{})
	claims := map[string]any{
		"iss": "session-service", "aud": "internal", "sub": "u", "sid": "s", "jti": "j",
		"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Unix() + 60),
	}
	if _, err := v.checkClaims(claims); err != nil {
		t.Fatal(err)
	}
	claims["cnf"] = map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
	if _, err := v.checkClaims(claims); !errors.Is(err, ErrDpopBound) {
		t.Fatalf("a DPoP-bound token gave %v", err)
	}
}
