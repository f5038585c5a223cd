// Command httpmiddleware is an HTTP service that verifies access tokens locally and
// puts the verified token in the request's context. It accepts bearer tokens, tokens
// bound to a DPoP key (Authorization: DPoP with a DPoP proof header, RFC 9449) and tokens
// bound to the client certificate of the request's TLS connection (RFC 8705).
package main

import (
	"context"
	"errors"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/session-service/session-service/clients/go/sessionclient"
)

type tokenKey struct{}

// RequireToken answers 401 unless the request carries a valid access token (with the
// Bearer or the DPoP scheme), and 503 while the Verifier cannot vouch for any token (its
// revocation feed is stale). A refusal's challenge is of the scheme the request used.
func RequireToken(verifier *sessionclient.Verifier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		var presented sessionclient.Presentation
		switch {
		case strings.EqualFold(scheme, "Bearer") && raw != "":
		case strings.EqualFold(scheme, "DPoP") && raw != "":
			presented.DPoP = &sessionclient.HTTPProof{
				// Exactly one proof: two are one invalid proof.
				Proof:  strings.Join(r.Header.Values("DPoP"), ","),
				Method: r.Method,
				URI:    requestURI(r),
			}
		default:
			w.Header().Set("WWW-Authenticate", `Bearer`)
			http.Error(w, "access token required", http.StatusUnauthorized)
			return
		}
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			presented.PeerCertificate = r.TLS.PeerCertificates[0] // verified by the handshake
		}
		token, err := verifier.VerifyPresented(raw, presented)
		switch {
		case errors.Is(err, sessionclient.ErrRevocationsStale):
			http.Error(w, "try again shortly", http.StatusServiceUnavailable)
			return
		case err != nil:
			code := "invalid_token"
			if errors.Is(err, sessionclient.ErrInvalidDpopProof) {
				code = "invalid_dpop_proof"
			}
			challenge := `Bearer error="` + code + `"`
			if presented.DPoP != nil {
				challenge = `DPoP error="` + code + `", algs="` + strings.Join(sessionclient.DPoPAlgorithms, " ") + `"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, token)))
	})
}

// requestURI is the URI the client sent the request to, as its DPoP proof names it
// (behind a proxy, the proxy must pass the client's Host and the server see its scheme).
func requestURI(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}

// TokenFrom is the token RequireToken verified for this request.
func TokenFrom(ctx context.Context) *sessionclient.VerifiedToken {
	token, _ := ctx.Value(tokenKey{}).(*sessionclient.VerifiedToken)
	return token
}

func main() {
	tlsConfig, err := sessionclient.TLSConfigFromFiles("ca.pem", "client.pem", "client-key.pem")
	if err != nil {
		log.Fatal(err)
	}
	client, err := sessionclient.New("session-service:50051", sessionclient.WithTLS(tlsConfig))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	verifier := sessionclient.NewVerifier(client, sessionclient.VerifierOptions{Audience: "internal"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := verifier.Start(ctx); err != nil { // keys fetched, revocation stream caught up
		log.Fatal(err)
	}
	defer verifier.Close()

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello " + TokenFrom(r.Context()).Subject + "\n"))
	})
	server := &http.Server{Addr: ":8080", Handler: RequireToken(verifier, hello), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(server.ListenAndServe())
}
