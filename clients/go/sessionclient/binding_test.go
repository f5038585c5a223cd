package sessionclient_test

// Bound tokens against a real service (see service_test.go): a session bound to a DPoP key
// by Create, and a token bound to the caller's certificate by Exchange over mTLS.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/session-service/session-service/clients/go/sessionclient"
	"github.com/session-service/session-service/clients/go/sessionv1"
)

const (
	loginURI = "https://login.example.com/session"
	apiURI   = "https://api.example.com/orders"
)

// proofKey is a client's DPoP key.
type proofKey struct{ signer jose.Signer }

func newProofKey(t *testing.T) proofKey {
	t.Helper()
	private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	options := (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt")
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: private}, options)
	if err != nil {
		t.Fatal(err)
	}
	return proofKey{signer}
}

// proof is a DPoP proof for method and uri, made at iat, over token ("": no ath).
func (k proofKey) proof(t *testing.T, method, uri, token string, iat time.Time) string {
	t.Helper()
	claims := map[string]any{"jti": rand.Text(), "htm": method, "htu": uri, "iat": iat.Unix()}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	payload, _ := json.Marshal(claims)
	jws, err := k.signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return compact
}

// unsignedProof is a proof whose header names alg, signed with signature (none: empty).
func unsignedProof(t *testing.T, alg, method, uri, token string, signature []byte) string {
	t.Helper()
	private, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: private.Public()})
	header, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": alg, "jwk": json.RawMessage(jwk)})
	sum := sha256.Sum256([]byte(token))
	payload, _ := json.Marshal(map[string]any{
		"jti": rand.Text(), "htm": method, "htu": uri, "iat": time.Now().Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:]),
	})
	encode := base64.RawURLEncoding.EncodeToString
	return encode(header) + "." + encode(payload) + "." + encode(signature)
}

func TestVerifierAcceptsADpopBoundTokenOnlyWithAFreshProofByItsKey(t *testing.T) {
	address := target(t, "SESSION_TARGET")
	client := connect(t, address)
	key := newProofKey(t)
	created, err := client.Create(context.Background(), &sessionv1.CreateRequest{
		UserId: "go-dpop",
		Dpop:   &sessionv1.DpopProof{Proof: key.proof(t, "POST", loginURI, "", time.Now()), HttpMethod: "POST", HttpUri: loginURI},
	})
	if err != nil {
		t.Fatal(err)
	}
	token := created.GetAccessToken()
	verifier := startVerifier(t, address, sessionclient.VerifierOptions{})
	request := func(proof string) sessionclient.Presentation {
		return sessionclient.Presentation{DPoP: &sessionclient.HTTPProof{Proof: proof, Method: "GET", URI: apiURI}}
	}

	valid := request(key.proof(t, "GET", apiURI+"?page=2#top", token, time.Now()))
	verified, err := verifier.VerifyPresented(token, valid)
	if err != nil {
		t.Fatal(err)
	}
	if verified.Subject != "go-dpop" || verified.CnfJKT == "" {
		t.Fatalf("claims: %+v", verified)
	}

	refused := map[string]sessionclient.Presentation{
		"replayed":        valid,
		"no proof header": request(""),
		"another key":     request(newProofKey(t).proof(t, "GET", apiURI, token, time.Now())),
		"wrong htm":       request(key.proof(t, "POST", apiURI, token, time.Now())),
		"wrong htu":       request(key.proof(t, "GET", "https://api.example.com/other", token, time.Now())),
		"wrong ath":       request(key.proof(t, "GET", apiURI, token+"x", time.Now())),
		"no ath":          request(key.proof(t, "GET", apiURI, "", time.Now())),
		"stale iat":       request(key.proof(t, "GET", apiURI, token, time.Now().Add(-10*time.Minute))),
		"future iat":      request(key.proof(t, "GET", apiURI, token, time.Now().Add(time.Minute))),
		"alg none":        request(unsignedProof(t, "none", "GET", apiURI, token, nil)),
		"alg HS256":       request(unsignedProof(t, "HS256", "GET", apiURI, token, make([]byte, 32))),
	}
	for what, presented := range refused {
		if _, err := verifier.VerifyPresented(token, presented); !errors.Is(err, sessionclient.ErrInvalidDpopProof) {
			t.Errorf("%s: %v", what, err)
		}
	}
	// Presented as a bearer token, the bound token does not pass.
	if _, err := verifier.Verify(token); !errors.Is(err, sessionclient.ErrDpopBindingMismatch) {
		t.Errorf("the bound token as a bearer token gave %v", err)
	}
	// An unbound token with a proof is refused too: it must be presented as a bearer token.
	bearer := create(t, client, "go-bearer").GetAccessToken()
	if _, err := verifier.VerifyPresented(bearer, request(key.proof(t, "GET", apiURI, bearer, time.Now()))); !errors.Is(err, sessionclient.ErrDpopBindingMismatch) {
		t.Errorf("an unbound token with a proof gave %v", err)
	}
	if _, err := verifier.VerifyPresented(token, request(key.proof(t, "GET", apiURI, token, time.Now()))); err != nil {
		t.Errorf("a second fresh proof: %v", err)
	}
}

func mtlsConfig(t *testing.T, cert, key string) *tls.Config {
	t.Helper()
	config, err := sessionclient.TLSConfigFromFiles(os.Getenv("SESSION_EXCHANGE_CA_FILE"), os.Getenv(cert), os.Getenv(key))
	if err != nil {
		t.Fatal(err)
	}
	config.ServerName = "localhost"
	return config
}

func TestVerifierAcceptsACertificateBoundTokenOnlyFromItsCertificate(t *testing.T) {
	address := target(t, "SESSION_EXCHANGE_TARGET")
	gatewayTLS := mtlsConfig(t, "SESSION_EXCHANGE_GATEWAY_CERT_FILE", "SESSION_EXCHANGE_GATEWAY_KEY_FILE")
	ordersTLS := mtlsConfig(t, "SESSION_EXCHANGE_ORDERS_CERT_FILE", "SESSION_EXCHANGE_ORDERS_KEY_FILE")
	gateway := connect(t, address, sessionclient.WithTLS(gatewayTLS))
	ctx := context.Background()
	created, err := gateway.Create(ctx, &sessionv1.CreateRequest{UserId: "go-exchange", Scopes: []string{"orders:read"}})
	if err != nil {
		t.Fatal(err)
	}
	exchanged, err := gateway.Exchange(ctx, &sessionv1.ExchangeRequest{
		SubjectToken: created.GetAccessToken(), Audience: "orders-api", Scopes: []string{"orders:read"},
		BindToCallerCertificate: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	token := exchanged.GetAccessToken()
	verifier := sessionclient.NewVerifier(connect(t, address, sessionclient.WithTLS(ordersTLS)),
		sessionclient.VerifierOptions{Audience: "orders-api"})
	startCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := verifier.Start(startCtx); err != nil {
		t.Fatal(err)
	}
	defer verifier.Close()

	leaf := func(config *tls.Config) *x509.Certificate {
		certificate, err := x509.ParseCertificate(config.Certificates[0].Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return certificate
	}
	verified, err := verifier.VerifyPresented(token, sessionclient.Presentation{PeerCertificate: leaf(gatewayTLS)})
	if err != nil {
		t.Fatal(err)
	}
	if verified.Subject != "go-exchange" || verified.CnfX5T == "" {
		t.Fatalf("claims: %+v", verified)
	}
	if _, err := verifier.VerifyPresented(token, sessionclient.Presentation{PeerCertificate: leaf(ordersTLS)}); !errors.Is(err, sessionclient.ErrCertificateBindingMismatch) {
		t.Errorf("another certificate gave %v", err)
	}
	if _, err := verifier.Verify(token); !errors.Is(err, sessionclient.ErrCertificateBindingMismatch) {
		t.Errorf("no certificate gave %v", err)
	}
}
