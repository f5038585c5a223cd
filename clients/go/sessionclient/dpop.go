package sessionclient

import (
	"container/list"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The checks of bound tokens: DPoP proofs (RFC 9449 sections 4.3 and 7.1) and
// certificate-bound tokens (RFC 8705 section 3), by the rules of the wire contract's
// session_wire/dpop.py and session_wire/delegation.py, which the service and the
// Python Verifier use.

// DPoPProofType is the typ header every DPoP proof carries (RFC 9449 section 4.2).
const DPoPProofType = "dpop+jwt"

// DPoPAlgorithms are the asymmetric algorithms a DPoP proof may use: those of the wire
// contract (DPOP_ALGORITHMS) that go-jose implements; "none" and MACs never pass. The
// fully specified "Ed25519" (RFC 9864) is not among them: go-jose knows EdDSA only.
var DPoPAlgorithms = []string{"ES256", "ES384", "EdDSA", "PS256", "RS256"}

const (
	// DefaultDPoPMaxAge is how old a proof's iat may be (beyond the leeway) by default.
	DefaultDPoPMaxAge = 60 * time.Second
	// DefaultDPoPReplayCacheSize is how many proofs a Verifier remembers by default.
	DefaultDPoPReplayCacheSize = 100_000

	maxProofChars = 8192
	maxJTIChars   = 256
	minRSABits    = 2048
)

// HTTPProof is a DPoP proof with the HTTP request it came with.
type HTTPProof struct {
	Proof  string // the value of the request's DPoP header ("" without one)
	Method string // the request's method, e.g. "GET"
	URI    string // the request's absolute URI; its query and fragment are not compared
}

// Presentation is how a request presented a token, for the checks of bound tokens.
type Presentation struct {
	// DPoP is the request's proof when it presented the token with the DPoP scheme
	// (Authorization: DPoP); nil for the Bearer scheme.
	DPoP *HTTPProof
	// PeerCertificate is the client certificate of the mTLS connection the token came on
	// (r.TLS.PeerCertificates[0]), already verified by the handshake; nil without one.
	PeerCertificate *x509.Certificate
}

// alg → the key type and curve a proof's jwk must have (no curve: RSA of minRSABits).
var dpopKeyShapes = map[jose.SignatureAlgorithm]elliptic.Curve{
	jose.ES256: elliptic.P256(), jose.ES384: elliptic.P384(), jose.EdDSA: nil, jose.PS256: nil, jose.RS256: nil,
}

func dpopAlgorithms() []jose.SignatureAlgorithm {
	algorithms := make([]jose.SignatureAlgorithm, len(DPoPAlgorithms))
	for i, a := range DPoPAlgorithms {
		algorithms[i] = jose.SignatureAlgorithm(a)
	}
	return algorithms
}

func proofError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidDpopProof, fmt.Sprintf(format, args...))
}

// verifiedProof is what a valid proof establishes.
type verifiedProof struct{ jkt, jti string }

// verifyProof checks a proof for its request at now (RFC 9449 section 4.3 items 2 to 12):
// over accessToken (ath) and by the key whose thumbprint is jkt. Replay is the caller's.
func verifyProof(p HTTPProof, accessToken, jkt string, now time.Time, maxAge, leeway time.Duration) (verifiedProof, error) {
	if p.Proof == "" || len(p.Proof) > maxProofChars {
		return verifiedProof{}, proofError("the proof is empty or too long")
	}
	segments := strings.Split(p.Proof, ".")
	if len(segments) != 3 {
		return verifiedProof{}, proofError("the proof is not a compact JWS")
	}
	// One proof, one spelling: no padding, no non-zero trailing bits (go-jose is lenient).
	for _, segment := range segments {
		if _, err := base64.RawURLEncoding.Strict().DecodeString(segment); err != nil {
			return verifiedProof{}, proofError("the proof is not canonical base64url")
		}
	}
	jws, err := jose.ParseSigned(p.Proof, dpopAlgorithms())
	if err != nil {
		return verifiedProof{}, proofError("%v", err)
	}
	header := jws.Signatures[0].Protected
	if typ, _ := header.ExtraHeaders[jose.HeaderType].(string); typ != DPoPProofType {
		return verifiedProof{}, proofError("the proof's typ is not %s", DPoPProofType)
	}
	if _, crit := header.ExtraHeaders["crit"]; crit {
		return verifiedProof{}, proofError("the proof names critical extensions")
	}
	key := header.JSONWebKey
	if key == nil {
		return verifiedProof{}, proofError("the proof carries no jwk")
	}
	if !key.IsPublic() {
		return verifiedProof{}, proofError("the proof's jwk contains private key material")
	}
	if err := checkKeyShape(jose.SignatureAlgorithm(header.Algorithm), key); err != nil {
		return verifiedProof{}, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return verifiedProof{}, proofError("the proof's signature does not verify")
	}

	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return verifiedProof{}, proofError("the proof's payload is not a JSON object")
	}
	jti, _ := claims["jti"].(string)
	if jti == "" || len(jti) > maxJTIChars {
		return verifiedProof{}, proofError("the proof has no valid jti")
	}
	htm, htmOK := claims["htm"].(string)
	htu, htuOK := claims["htu"].(string)
	if !htmOK || !htuOK {
		return verifiedProof{}, proofError("the proof has no htm or htu")
	}
	iat, ok := claims["iat"].(float64)
	if !ok {
		return verifiedProof{}, proofError("the proof has no numeric iat")
	}
	if htm != p.Method {
		return verifiedProof{}, proofError("the proof's htm is not the request's method")
	}
	proofURI, err := normalizeHTU(htu)
	if err != nil {
		return verifiedProof{}, err
	}
	requestURI, err := normalizeHTU(p.URI)
	if err != nil {
		return verifiedProof{}, err
	}
	if proofURI != requestURI {
		return verifiedProof{}, proofError("the proof's htu is not the request's URI")
	}
	seconds := float64(now.UnixNano()) / 1e9
	if iat > seconds+leeway.Seconds() || iat < seconds-maxAge.Seconds()-leeway.Seconds() {
		return verifiedProof{}, proofError("the proof's iat is outside the accepted window")
	}
	ath, _ := claims["ath"].(string)
	if subtle.ConstantTimeCompare([]byte(ath), []byte(accessTokenHash(accessToken))) != 1 {
		return verifiedProof{}, proofError("the proof's ath is not the access token's hash")
	}
	thumbprint, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return verifiedProof{}, proofError("the proof's jwk has no thumbprint: %v", err)
	}
	got := base64.RawURLEncoding.EncodeToString(thumbprint)
	if subtle.ConstantTimeCompare([]byte(got), []byte(jkt)) != 1 {
		return verifiedProof{}, proofError("the proof is signed by another key than the token is bound to")
	}
	return verifiedProof{jkt: got, jti: jti}, nil
}

// checkKeyShape: the jwk must be of the kind alg names (EC of its curve, Ed25519, RSA of
// at least 2048 bits).
func checkKeyShape(alg jose.SignatureAlgorithm, key *jose.JSONWebKey) error {
	fits := false
	switch k := key.Key.(type) {
	case *ecdsa.PublicKey:
		fits = dpopKeyShapes[alg] != nil && k.Curve == dpopKeyShapes[alg]
	case ed25519.PublicKey:
		fits = alg == jose.EdDSA
	case *rsa.PublicKey:
		if alg == jose.PS256 || alg == jose.RS256 {
			if k.N.BitLen() < minRSABits {
				return proofError("the proof's RSA key is shorter than %d bits", minRSABits)
			}
			fits = true
		}
	}
	if !fits {
		return proofError("the proof's jwk does not fit alg %s", alg)
	}
	return nil
}

// accessTokenHash is the ath a proof carries for an access token: base64url SHA-256.
func accessTokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

var defaultPorts = map[string]string{"http": "80", "https": "443"}

// normalizeHTU is the URI as proofs are compared (RFC 9449 section 4.3): no query or
// fragment, scheme and host in lower case, the scheme's default port dropped, an empty
// path as "/"; an error for what is not an absolute http(s) URI.
func normalizeHTU(uri string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(uri))
	if err != nil {
		return "", proofError("htu is not a valid URI")
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if _, ok := defaultPorts[scheme]; !ok || host == "" {
		return "", proofError("htu is not an absolute http(s) URI")
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n > math.MaxUint16 {
			return "", proofError("htu is not a valid URI")
		}
		port = strconv.Itoa(n)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" && port != defaultPorts[scheme] {
		host += ":" + port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

// checkDPoP is RFC 9449 section 7.1: a token bound to a key (cnf.jkt) needs a valid,
// unseen proof by that key; an unbound token comes without one.
func (v *Verifier) checkDPoP(token string, verified *VerifiedToken, proof *HTTPProof) error {
	switch {
	case proof == nil && verified.CnfJKT == "":
		return nil
	case proof == nil:
		return fmt.Errorf("%w: the token is DPoP-bound: it needs the DPoP scheme and a proof", ErrDpopBindingMismatch)
	case verified.CnfJKT == "":
		return fmt.Errorf("%w: the token is not DPoP-bound: present it as a bearer token", ErrDpopBindingMismatch)
	}
	now := v.opts.Clock()
	checked, err := verifyProof(*proof, token, verified.CnfJKT, now, v.opts.DPoPMaxAge, v.opts.Leeway)
	if err != nil {
		return err
	}
	if !v.seenProofs.firstUse(checked.jkt+" "+checked.jti, now) {
		return proofError("the proof's jti was used before")
	}
	return nil
}

// checkCertificate is RFC 8705 section 3: a certificate-bound token (cnf.x5t#S256) only
// from the peer that presents that certificate.
func checkCertificate(verified *VerifiedToken, peer *x509.Certificate) error {
	if verified.CnfX5T == "" {
		return nil
	}
	if peer == nil {
		return fmt.Errorf("%w: no client certificate was presented", ErrCertificateBindingMismatch)
	}
	sum := sha256.Sum256(peer.Raw)
	presented := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(presented), []byte(verified.CnfX5T)) != 1 {
		return fmt.Errorf("%w: the token is bound to another client certificate", ErrCertificateBindingMismatch)
	}
	return nil
}

// seenProofs is an in-process jti replay cache: the proofs seen within their acceptance
// window, at most maxEntries, the least recently seen going first (only holders of a
// bound token's key get this far, so a flood can push out only their own).
type seenProofs struct {
	mu         sync.Mutex
	window     time.Duration
	maxEntries int
	order      *list.List // of *seenProof, most recently seen first
	byKey      map[string]*list.Element
}

type seenProof struct {
	key   string
	until time.Time
}

func newSeenProofs(maxEntries int, window time.Duration) *seenProofs {
	return &seenProofs{window: window, maxEntries: maxEntries, order: list.New(), byKey: map[string]*list.Element{}}
}

// firstUse records the proof; false when it was seen within the window.
func (s *seenProofs) firstUse(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if element, ok := s.byKey[key]; ok {
		if now.Before(element.Value.(*seenProof).until) {
			s.order.MoveToFront(element)
			return false
		}
		s.order.Remove(element)
		delete(s.byKey, key)
	}
	s.byKey[key] = s.order.PushFront(&seenProof{key, now.Add(s.window)})
	for s.order.Len() > s.maxEntries {
		oldest := s.order.Back()
		s.order.Remove(oldest)
		delete(s.byKey, oldest.Value.(*seenProof).key)
	}
	return true
}
