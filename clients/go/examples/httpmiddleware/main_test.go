package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

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
		{"", http.StatusUnauthorized, "bearer token required\n"},
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
