// Command httpmiddleware is an HTTP service that verifies access tokens locally and
// puts the verified token in the request's context.
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

// RequireToken answers 401 unless the request carries a valid bearer access token, and
// 503 while the Verifier cannot vouch for any token (its revocation feed is stale).
func RequireToken(verifier *sessionclient.Verifier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer`)
			http.Error(w, "bearer token required", http.StatusUnauthorized)
			return
		}
		token, err := verifier.Verify(raw)
		switch {
		case errors.Is(err, sessionclient.ErrRevocationsStale):
			http.Error(w, "try again shortly", http.StatusServiceUnavailable)
			return
		case err != nil:
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, token)))
	})
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
