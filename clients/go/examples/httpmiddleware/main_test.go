package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/session-service/session-service/clients/go/sessionclient"
	"github.com/session-service/session-service/clients/go/sessionv1"
)

func TestRequireTokenPutsTheVerifiedUserInTheContext(t *testing.T) {
	address := os.Getenv("SESSION_TARGET")
	if address == "" {
		t.Skip("SESSION_TARGET is not set: no service to test against")
	}
	client, err := sessionclient.New(address)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	verifier := sessionclient.NewVerifier(client, sessionclient.VerifierOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := verifier.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer verifier.Close()
	created, err := client.Create(ctx, &sessionv1.CreateRequest{UserId: "go-middleware"})
	if err != nil {
		t.Fatal(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello " + TokenFrom(r.Context()).Subject))
	})
	server := httptest.NewServer(RequireToken(verifier, hello))
	defer server.Close()

	for _, c := range []struct {
		authorization string
		status        int
		body          string
	}{
		{"Bearer " + created.GetAccessToken(), http.StatusOK, "hello go-middleware"},
		{"Bearer " + created.GetAccessToken() + "x", http.StatusUnauthorized, "invalid token\n"},
		{"", http.StatusUnauthorized, "access token required\n"},
	} {
		request, _ := http.NewRequest(http.MethodGet, server.URL, nil)
		if c.authorization != "" {
			request.Header.Set("Authorization", c.authorization)
		}
		response, err := http.DefaultClient.Do(request)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(response.Body)
		_ = response.Body.Close()
		if response.StatusCode != c.status || string(body) != c.body {
			t.Errorf("%q: %d %q", c.authorization, response.StatusCode, body)
		}
	}
}

func TestRequireTokenChecksTheDpopProofOfTheRequest(t *testing.T) {
	address := os.Getenv("SESSION_TARGET")
	if address == "" {
		t.Skip("SESSION_TARGET is not set: no service to test against")
	}
	client, err := sessionclient.New(address)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	verifier := sessionclient.NewVerifier(client, sessionclient.VerifierOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := verifier.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer verifier.Close()
	private, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: private},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	proof := func(method, uri, token string) string {
		claims := map[string]any{"jti": rand.Text(), "htm": method, "htu": uri, "iat": time.Now().Unix()}
		if token != "" {
			sum := sha256.Sum256([]byte(token))
			claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
		}
		payload, _ := json.Marshal(claims)
		jws, _ := signer.Sign(payload)
		compact, _ := jws.CompactSerialize()
		return compact
	}
	login := "https://login.example.com/session"
	created, err := client.Create(ctx, &sessionv1.CreateRequest{
		UserId: "go-middleware-dpop",
		Dpop:   &sessionv1.DpopProof{Proof: proof("POST", login, ""), HttpMethod: "POST", HttpUri: login},
	})
	if err != nil {
		t.Fatal(err)
	}
	token := created.GetAccessToken()
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello " + TokenFrom(r.Context()).Subject))
	})
	server := httptest.NewServer(RequireToken(verifier, hello))
	defer server.Close()

	valid := proof("GET", server.URL+"/me", token)
	algs := `algs="ES256 ES384 EdDSA PS256 RS256"`
	for _, c := range []struct {
		authorization, proof string
		status               int
		challenge            string
	}{
		{"DPoP " + token, valid, http.StatusOK, ""},
		{"DPoP " + token, valid, http.StatusUnauthorized, `DPoP error="invalid_dpop_proof", ` + algs}, // replayed
		{"DPoP " + token, proof("GET", server.URL+"/other", token), http.StatusUnauthorized, `DPoP error="invalid_dpop_proof", ` + algs},
		{"Bearer " + token, "", http.StatusUnauthorized, `Bearer error="invalid_token"`},
	} {
		request, _ := http.NewRequest(http.MethodGet, server.URL+"/me?x=1", nil)
		request.Header.Set("Authorization", c.authorization)
		if c.proof != "" {
			request.Header.Set("DPoP", c.proof)
		}
		response, err := http.DefaultClient.Do(request)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(response.Body)
		_ = response.Body.Close()
		if response.StatusCode != c.status || response.Header.Get("WWW-Authenticate") != c.challenge {
			t.Errorf("%.10s…: %d %q %q", c.authorization, response.StatusCode, response.Header.Get("WWW-Authenticate"), body)
		}
	}
}
