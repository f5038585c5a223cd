package sessionclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/session-service/session-service/clients/go/sessionv1"
)

// The access-token profile (session_wire/token_profile.py declares it for the issuer
// and the Python verifier; verifier_test.go checks these against it).
const (
	// TokenType is the typ header of an access token (RFC 9068).
	TokenType = "at+jwt"
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat by default.
	DefaultLeeway = 5 * time.Second
)

// SupportedAlgorithms are the signature algorithms a key of the service may have. The
// Verifier takes the algorithm from the key, never from the token, and never accepts
// "none" or an HMAC.
var SupportedAlgorithms = []string{"EdDSA", "ES256", "RS256"}

// RequiredClaims are the claims every access token carries and the Verifier requires.
var RequiredClaims = []string{"iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp"}

// Why Verify refused a token: each error it returns matches one of these with errors.Is.
var (
	ErrMalformedToken      = errors.New("malformed token")
	ErrInvalidSignature    = errors.New("invalid signature")
	ErrUnknownSigningKey   = errors.New("unknown signing key")
	ErrDisallowedAlgorithm = errors.New("disallowed algorithm")
	ErrInvalidTokenType    = errors.New("not an access token (typ)")
	ErrMissingClaim        = errors.New("missing claim")
	ErrInvalidIssuer       = errors.New("invalid issuer")
	ErrInvalidAudience     = errors.New("invalid audience")
	ErrTokenExpired        = errors.New("token expired")
	ErrTokenNotYetValid    = errors.New("token not yet valid")
	ErrSessionRevoked      = errors.New("session revoked")
	// ErrRevocationsStale: the Verifier's view of the revocations is not fresh enough to
	// vouch for the token (the stream is behind, silent or cut, or could not resume
	// from its cursor before the token was issued). The token may be fine: ask
	// Introspect, or refuse it.
	ErrRevocationsStale = errors.New("revocation view stale")
	// ErrInvalidDpopProof: the DPoP proof is missing, malformed, replayed, not for this
	// request or not by the key the token is bound to (RFC 9449 section 4.3); answer with
	// a DPoP challenge, error "invalid_dpop_proof".
	ErrInvalidDpopProof = errors.New("invalid DPoP proof")
	// ErrDpopBindingMismatch: a DPoP-bound token presented as a bearer token, or an
	// unbound token presented with a DPoP proof (RFC 9449 section 7.1).
	ErrDpopBindingMismatch = errors.New("DPoP binding mismatch")
	// ErrCertificateBindingMismatch: a token bound to a client certificate (RFC 8705
	// cnf.x5t#S256) presented by a peer without that certificate.
	ErrCertificateBindingMismatch = errors.New("certificate binding mismatch")
)

// VerifiedToken is an access token that passed every check.
type VerifiedToken struct {
	Subject   string   // sub: the user
	SessionID string   // sid
	Scopes    []string // scope, split
	ClientID  string   // client_id: the application the session was created for ("" if none)
	TokenID   string   // jti
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Claims holds every claim, the session's extra claims too (numbers as float64).
	Claims map[string]any
	// CnfJKT is the thumbprint of the DPoP key the token is bound to (cnf.jkt; "" for a
	// token not bound to a key).
	CnfJKT string
	// CnfX5T is the thumbprint of the client certificate the token is bound to
	// (cnf.x5t#S256, RFC 8705; "" for a token not bound to a certificate).
	CnfX5T string
}

// VerifierOptions tune a Verifier; the zero value of a field means its default.
type VerifierOptions struct {
	Issuer   string        // expected iss; default "session-service"
	Audience string        // expected in aud; default "internal"
	Leeway   time.Duration // on exp, nbf, iat; default DefaultLeeway (negative: none)
	// MaxStaleness: the view of the revocations older than this refuses every token
	// with ErrRevocationsStale; default 5s.
	MaxStaleness time.Duration
	// MaxSilence: the stream silent for this long is reconnected (heartbeats come every
	// second); default 10s.
	MaxSilence time.Duration
	// JWKSRefreshInterval: the keys are refetched this often; default 5m.
	JWKSRefreshInterval time.Duration
	// JWKSRefetchInterval: an unknown kid refetches the keys at most this often; default 30s.
	JWKSRefetchInterval time.Duration
	// Clock is the time tokens and revocations are judged at; default time.Now.
	Clock func() time.Time
	// Logger receives warnings (stream failures, stale view); default slog.Default().
	Logger *slog.Logger
	// DPoPMaxAge: a DPoP proof's iat may be this old (plus the leeway); default 60s.
	DPoPMaxAge time.Duration
	// DPoPReplayCacheSize: the most proofs remembered against replay (each while it could
	// be accepted); default 100000.
	DPoPReplayCacheSize int
}

// Verifier verifies access tokens locally and refuses those of revoked sessions.
//
// Start fetches the keys (GetJwks), follows WatchRevocations in the background from its
// cursor, and returns once the stream has caught up. Verify then needs no network.
// Never fail-open: while the view of the revocations is staler than MaxStaleness, or
// for tokens issued before a point from which revocations may have been missed, Verify
// returns ErrRevocationsStale.
//
// Bound tokens pass only with what binds them (VerifyPresented). DPoP (RFC 9449): a token
// bound to a key (cnf.jkt) needs a proof by that key, over the token's hash, for the
// request's method and URI, at most DPoPMaxAge old, and not seen before by this Verifier
// (an in-process cache: run one Verifier per resource, or a proof replayed to another
// process passes there once). RFC 8705: a token bound to a client certificate
// (cnf.x5t#S256) needs the certificate the peer presented on the connection.
type Verifier struct {
	client     *Client
	opts       VerifierOptions
	view       *revocationView
	seenProofs *seenProofs

	mu             sync.RWMutex
	keys           map[string]jose.JSONWebKey
	jwksFetchedAt  time.Time
	refetching     bool
	caughtUp       chan struct{}
	caughtUpOnce   sync.Once
	cancel         context.CancelFunc
	done           sync.WaitGroup
	staleLogged    bool
	staleLoggedMux sync.Mutex
}

// NewVerifier makes a Verifier that gets its keys and revocations through client.
func NewVerifier(client *Client, opts VerifierOptions) *Verifier {
	if opts.Issuer == "" {
		opts.Issuer = "session-service"
	}
	if opts.Audience == "" {
		opts.Audience = "internal"
	}
	if opts.Leeway == 0 {
		opts.Leeway = DefaultLeeway
	} else if opts.Leeway < 0 {
		opts.Leeway = 0
	}
	setDefault(&opts.MaxStaleness, 5*time.Second)
	setDefault(&opts.MaxSilence, 10*time.Second)
	setDefault(&opts.JWKSRefreshInterval, 5*time.Minute)
	setDefault(&opts.JWKSRefetchInterval, 30*time.Second)
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	setDefault(&opts.DPoPMaxAge, DefaultDPoPMaxAge)
	if opts.DPoPReplayCacheSize <= 0 {
		opts.DPoPReplayCacheSize = DefaultDPoPReplayCacheSize
	}
	// A proof's jti is remembered as long as its iat keeps it acceptable: up to the
	// leeway ahead, then DPoPMaxAge and the leeway behind.
	replayWindow := opts.DPoPMaxAge + 2*opts.Leeway
	return &Verifier{
		client:     client,
		opts:       opts,
		view:       newRevocationView(opts.Leeway, opts.MaxStaleness, opts.Clock),
		seenProofs: newSeenProofs(opts.DPoPReplayCacheSize, replayWindow),
		keys:       map[string]jose.JSONWebKey{},
		caughtUp:   make(chan struct{}),
	}
}

func setDefault(d *time.Duration, value time.Duration) {
	if *d <= 0 {
		*d = value
	}
}

// Start fetches the keys and catches up with the revocation stream; it returns the
// client's error when the keys cannot be fetched, ctx's when the stream has not caught
// up before ctx ends (then the Verifier is closed).
func (v *Verifier) Start(ctx context.Context) error {
	if err := v.fetchJWKS(ctx); err != nil {
		return err
	}
	background, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	v.done.Add(2)
	go func() { defer v.done.Done(); v.followRevocations(background) }()
	go func() { defer v.done.Done(); v.refreshJWKS(background) }()
	select {
	case <-v.caughtUp:
		return nil
	case <-ctx.Done():
		v.Close()
		return fmt.Errorf("the revocation stream did not catch up: %w", ctx.Err())
	}
}

// Close stops the background work and waits for it.
func (v *Verifier) Close() {
	if v.cancel != nil {
		v.cancel()
	}
	v.done.Wait()
}

// Stale reports whether the view of the revocations is older than MaxStaleness (Verify
// then refuses every token).
func (v *Verifier) Stale() bool {
	s := v.view.staleness()
	return s < 0 || s > v.opts.MaxStaleness
}

// Staleness is the time since the view of the revocations was last known complete
// (math.MaxInt64 before it first caught up).
func (v *Verifier) Staleness() time.Duration {
	if s := v.view.staleness(); s >= 0 {
		return s
	}
	return time.Duration(math.MaxInt64)
}

// RevocationsPossiblyMissedBefore is set after the stream could not resume from the
// Verifier's cursor: revocations of tokens issued before it may be unknown (zero when
// none may have been missed).
func (v *Verifier) RevocationsPossiblyMissedBefore() time.Time { return v.view.mayHaveMissedBefore() }

// IsRevoked reports whether a revocation of the session is known (and still matters).
func (v *Verifier) IsRevoked(sessionID string) bool {
	_, revoked := v.view.revokedReason(sessionID)
	return revoked
}

// Verify checks a token presented as a bearer token, with no network call: the
// signature with the key named by kid and only that key's algorithm, typ at+jwt, iss,
// aud, exp, nbf and iat (with the leeway), the required claims, that its session has not
// been revoked, that the view of the revocations is fresh, and that the token is bound
// neither to a DPoP key nor to a client certificate. The error matches one of the Err...
// values of this file with errors.Is.
func (v *Verifier) Verify(token string) (*VerifiedToken, error) {
	return v.VerifyPresented(token, Presentation{})
}

// VerifyPresented is Verify for a token presented with what may bind it: the request's
// DPoP proof (with the DPoP scheme) and the peer's client certificate. A DPoP-bound token
// without a proof, or an unbound one with a proof, returns ErrDpopBindingMismatch; a
// proof that fails ErrInvalidDpopProof; a certificate-bound token without its certificate
// ErrCertificateBindingMismatch.
func (v *Verifier) VerifyPresented(token string, presented Presentation) (*VerifiedToken, error) {
	verified, err := v.verifyLocally(token)
	if err != nil {
		return nil, err
	}
	if reason, revoked := v.view.revokedReason(verified.SessionID); revoked {
		if reason == "" {
			return nil, ErrSessionRevoked
		}
		return nil, fmt.Errorf("%w (%s)", ErrSessionRevoked, reason)
	}
	if !v.view.fresh(verified.IssuedAt) {
		v.logStale()
		return nil, fmt.Errorf("%w (%v since it was last complete)", ErrRevocationsStale, v.Staleness())
	}
	if err := v.checkDPoP(token, verified, presented.DPoP); err != nil {
		return nil, err
	}
	if err := checkCertificate(verified, presented.PeerCertificate); err != nil {
		return nil, err
	}
	return verified, nil
}

func (v *Verifier) verifyLocally(token string) (*VerifiedToken, error) {
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256, jose.RS256})
	if err != nil {
		var unexpected *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &unexpected) {
			return nil, fmt.Errorf("%w: %v", ErrDisallowedAlgorithm, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformedToken, err)
	}
	if len(parsed.Headers) != 1 {
		return nil, fmt.Errorf("%w: one signature expected", ErrMalformedToken)
	}
	header := parsed.Headers[0]
	if typ, _ := header.ExtraHeaders[jose.HeaderType].(string); typ != TokenType {
		return nil, fmt.Errorf("%w: %q", ErrInvalidTokenType, typ)
	}
	key, ok := v.key(header.KeyID)
	if !ok {
		v.refetchSoon()
		return nil, fmt.Errorf("%w: kid %q", ErrUnknownSigningKey, header.KeyID)
	}
	if header.Algorithm != key.Algorithm {
		return nil, fmt.Errorf("%w: %s for a %s key", ErrDisallowedAlgorithm, header.Algorithm, key.Algorithm)
	}
	var claims map[string]any
	if err := parsed.Claims(key.Key, &claims); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return nil, fmt.Errorf("%w: %v", ErrInvalidSignature, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformedToken, err)
	}
	return v.checkClaims(claims)
}

func (v *Verifier) checkClaims(claims map[string]any) (*VerifiedToken, error) {
	for _, name := range RequiredClaims {
		if _, ok := claims[name]; !ok {
			return nil, fmt.Errorf("%w: %s", ErrMissingClaim, name)
		}
	}
	if iss, _ := claims["iss"].(string); iss != v.opts.Issuer {
		return nil, fmt.Errorf("%w: %q", ErrInvalidIssuer, claims["iss"])
	}
	if !hasAudience(claims["aud"], v.opts.Audience) {
		return nil, fmt.Errorf("%w: %v", ErrInvalidAudience, claims["aud"])
	}
	times := map[string]time.Time{}
	for _, name := range []string{"iat", "nbf", "exp"} {
		seconds, ok := claims[name].(float64)
		if !ok {
			return nil, fmt.Errorf("%w: %s is not a NumericDate", ErrMalformedToken, name)
		}
		whole, frac := math.Modf(seconds)
		times[name] = time.Unix(int64(whole), int64(frac*1e9))
	}
	now, leeway := v.opts.Clock(), v.opts.Leeway
	// The same boundaries as the issuer's checks (PyJWT): expired once exp <= now - leeway.
	if !times["exp"].After(now.Add(-leeway)) {
		return nil, fmt.Errorf("%w at %s", ErrTokenExpired, times["exp"].UTC().Format(time.RFC3339))
	}
	if times["nbf"].After(now.Add(leeway)) || times["iat"].After(now.Add(leeway)) {
		return nil, ErrTokenNotYetValid
	}
	sub, subOK := claims["sub"].(string)
	sid, sidOK := claims["sid"].(string)
	jti, _ := claims["jti"].(string)
	if !subOK || !sidOK || sid == "" {
		return nil, fmt.Errorf("%w: sub and sid must be strings", ErrMalformedToken)
	}
	scope, _ := claims["scope"].(string)
	clientID, _ := claims["client_id"].(string)
	cnf, _ := claims["cnf"].(map[string]any)
	jkt, _ := cnf["jkt"].(string)
	x5t, _ := cnf["x5t#S256"].(string)
	return &VerifiedToken{
		Subject: sub, SessionID: sid, Scopes: strings.Fields(scope), ClientID: clientID, TokenID: jti,
		IssuedAt: times["iat"], ExpiresAt: times["exp"], Claims: claims, CnfJKT: jkt, CnfX5T: x5t,
	}, nil
}

func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, item := range a {
			if s, ok := item.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// Keys.

func (v *Verifier) key(kid string) (jose.JSONWebKey, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	key, ok := v.keys[kid]
	return key, ok
}

func (v *Verifier) fetchJWKS(ctx context.Context) error {
	response, err := v.client.GetJwks(ctx, &sessionv1.GetJwksRequest{})
	if err != nil {
		return err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(response.GetJwksJson()), &set); err != nil {
		return fmt.Errorf("the service's JWKS does not parse: %w", err)
	}
	keys := map[string]jose.JSONWebKey{}
	for _, key := range set.Keys {
		// Only public signature keys of a supported algorithm: never a key that names none.
		if key.IsPublic() && (key.Use == "" || key.Use == "sig") && supported(key.Algorithm) {
			keys[key.KeyID] = key
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.keys = keys
	v.jwksFetchedAt = time.Now()
	return nil
}

func supported(algorithm string) bool {
	for _, a := range SupportedAlgorithms {
		if a == algorithm {
			return true
		}
	}
	return false
}

// refetchSoon refetches the keys in the background, at most once per JWKSRefetchInterval.
func (v *Verifier) refetchSoon() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cancel == nil || v.refetching || time.Since(v.jwksFetchedAt) < v.opts.JWKSRefetchInterval {
		return
	}
	v.refetching = true
	v.jwksFetchedAt = time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := v.fetchJWKS(ctx); err != nil {
			v.opts.Logger.Warn("could not refetch the JWKS", "error", err)
		}
		v.mu.Lock()
		v.refetching = false
		v.mu.Unlock()
	}()
}

func (v *Verifier) refreshJWKS(ctx context.Context) {
	ticker := time.NewTicker(v.opts.JWKSRefreshInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if err := v.fetchJWKS(ctx); err != nil && ctx.Err() == nil {
				v.opts.Logger.Warn("could not refresh the JWKS", "error", err)
			}
		}
	}
}

// Revocations.

const (
	firstBackoff = 50 * time.Millisecond
	maxBackoff   = 5 * time.Second
)

// followRevocations keeps the view fed from WatchRevocations until ctx ends,
// reconnecting from the cursor whenever the stream ends, fails or stays silent.
func (v *Verifier) followRevocations(ctx context.Context) {
	backoff := firstBackoff
	for ctx.Err() == nil {
		v.view.reconnecting()
		err := v.watchOnce(ctx, func() { backoff = firstBackoff })
		if ctx.Err() != nil {
			return
		}
		// Jitter in [0.5, 1.5) so that many verifiers do not reconnect in step.
		delay := time.Duration(float64(backoff) * (0.5 + rand.Float64()))
		backoff = min(backoff*2, maxBackoff)
		v.opts.Logger.Warn("revocation stream ended; reconnecting", "error", err, "in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

func (v *Verifier) watchOnce(ctx context.Context, received func()) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	silence := time.AfterFunc(v.opts.MaxSilence, func() {
		cancel(fmt.Errorf("silent for %v", v.opts.MaxSilence))
	})
	defer silence.Stop()
	stream, err := v.client.WatchRevocations(ctx, &sessionv1.WatchRevocationsRequest{Cursor: v.view.currentCursor()})
	if err != nil {
		return err
	}
	for {
		response, err := stream.Recv()
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return cause
			}
			if errors.Is(err, io.EOF) {
				return errors.New("the service ended the stream")
			}
			return err
		}
		silence.Reset(v.opts.MaxSilence)
		v.apply(response)
		received()
	}
}

func (v *Verifier) apply(response *sessionv1.WatchRevocationsResponse) {
	if response.GetCursorReset() {
		v.opts.Logger.Warn("revocation stream could not resume from its cursor; some may have been missed",
			"cursor", v.view.currentCursor())
	}
	events := make([]revocationEvent, 0, len(response.GetRevocations()))
	for _, r := range response.GetRevocations() {
		reason := ""
		if r.GetReason() != sessionv1.RevocationReason_REVOCATION_REASON_UNSPECIFIED {
			reason = strings.TrimPrefix(r.GetReason().String(), "REVOCATION_REASON_")
		}
		events = append(events, revocationEvent{r.GetSessionIds(), r.GetExpiresAt().AsTime(), reason})
	}
	v.view.apply(events, response.GetCursor(), response.GetCursorReset(), response.GetCaughtUp())
	if response.GetCaughtUp() {
		v.caughtUpOnce.Do(func() { close(v.caughtUp) })
	}
	v.staleLoggedMux.Lock()
	if v.staleLogged && !v.Stale() {
		v.staleLogged = false
		v.opts.Logger.Info("revocation view fresh again")
	}
	v.staleLoggedMux.Unlock()
}

func (v *Verifier) logStale() {
	v.staleLoggedMux.Lock()
	defer v.staleLoggedMux.Unlock()
	if !v.staleLogged {
		v.staleLogged = true
		v.opts.Logger.Warn("revocation view stale: refusing tokens", "staleness", v.Staleness())
	}
}
