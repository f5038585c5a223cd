package sessionclient_test

// Against a real service: the test suite (tests/client/test_go_client.py) starts the
// services with Redis and names them in environment variables; without them these
// tests are skipped.

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/session-service/session-service/clients/go/sessionclient"
	"github.com/session-service/session-service/clients/go/sessionv1"
)

// target is a plaintext loopback service named by an environment variable.
func target(t *testing.T, variable string) string {
	t.Helper()
	value := os.Getenv(variable)
	if value == "" {
		t.Skipf("%s is not set: no service to test against", variable)
	}
	return value
}

func connect(t *testing.T, target string, opts ...sessionclient.Option) *sessionclient.Client {
	t.Helper()
	client, err := sessionclient.New(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func startVerifier(t *testing.T, target string, opts sessionclient.VerifierOptions) *sessionclient.Verifier {
	t.Helper()
	verifier := sessionclient.NewVerifier(connect(t, target), opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := verifier.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(verifier.Close)
	return verifier
}

func create(t *testing.T, client *sessionclient.Client, user string) *sessionv1.CreateResponse {
	t.Helper()
	created, err := client.Create(context.Background(), &sessionv1.CreateRequest{UserId: user, Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// The service behind SESSION_TARGET has a refresh grace of one second.
func TestCallsAndTypedErrors(t *testing.T) {
	ctx := context.Background()
	client := connect(t, target(t, "SESSION_TARGET"))
	created := create(t, client, "go-alice")
	sid := created.GetSession().GetSessionId()

	got, err := client.Get(ctx, &sessionv1.GetRequest{SessionId: sid})
	if err != nil || got.GetSession().GetUserId() != "go-alice" {
		t.Fatalf("Get: %v %v", got, err)
	}
	refreshed, err := client.Refresh(ctx, &sessionv1.RefreshRequest{RefreshToken: created.GetRefreshToken()})
	if err != nil {
		t.Fatal(err)
	}
	// A duplicate within the grace (two tabs, a retry) gets the same successor.
	duplicate, err := client.Refresh(ctx, &sessionv1.RefreshRequest{RefreshToken: created.GetRefreshToken()})
	if err != nil || duplicate.GetRefreshToken() != refreshed.GetRefreshToken() {
		t.Fatalf("duplicate Refresh within the grace: %v", err)
	}
	introspected, err := client.Introspect(ctx, &sessionv1.IntrospectRequest{Token: refreshed.GetAccessToken()})
	if err != nil || !introspected.GetActive() || introspected.GetSid() != sid {
		t.Fatalf("Introspect: %v %v", introspected, err)
	}

	time.Sleep(1100 * time.Millisecond) // past the grace: the old token is now reuse
	_, err = client.Refresh(ctx, &sessionv1.RefreshRequest{RefreshToken: created.GetRefreshToken()})
	if !errors.Is(err, sessionclient.ErrRefreshTokenReused) || status.Code(err) != codes.Unauthenticated {
		t.Fatalf("reuse gave %v", err)
	}
	var failure *sessionclient.Error
	if !errors.As(err, &failure) || failure.Reason != "REFRESH_TOKEN_REUSED" || failure.Domain != "session.v1" {
		t.Fatalf("reuse error details: %#v", failure)
	}
	_, err = client.Get(ctx, &sessionv1.GetRequest{SessionId: sid})
	if !errors.Is(err, sessionclient.ErrSessionNotFound) || status.Code(err) != codes.NotFound {
		t.Fatalf("Get after reuse gave %v", err)
	}
	_, err = client.Create(ctx, &sessionv1.CreateRequest{})
	if !errors.As(err, &failure) || !errors.Is(err, sessionclient.ErrInvalidArgument) || failure.FieldViolations["user_id"] == "" {
		t.Fatalf("Create without user_id gave %#v", err)
	}

	other := create(t, client, "go-alice")
	revoked, err := client.Revoke(ctx, &sessionv1.RevokeRequest{
		Target: &sessionv1.RevokeRequest_SessionId{SessionId: other.GetSession().GetSessionId()},
	})
	if err != nil || revoked.GetRevokedCount() != 1 {
		t.Fatalf("Revoke: %v %v", revoked, err)
	}
	introspected, err = client.Introspect(ctx, &sessionv1.IntrospectRequest{Token: other.GetAccessToken()})
	if err != nil || introspected.GetActive() {
		t.Fatalf("Introspect after Revoke: %v %v", introspected, err)
	}
}

func TestVerifierAcceptsEverySupportedAlgorithmAndRefusesAForgedSignature(t *testing.T) {
	for _, variable := range []string{"SESSION_TARGET", "SESSION_TARGET_ES256", "SESSION_TARGET_RS256"} {
		t.Run(variable, func(t *testing.T) {
			address := target(t, variable)
			created := create(t, connect(t, address), "go-algo")
			verifier := startVerifier(t, address, sessionclient.VerifierOptions{})
			verified, err := verifier.Verify(created.GetAccessToken())
			if err != nil {
				t.Fatal(err)
			}
			if verified.Subject != "go-algo" || verified.SessionID != created.GetSession().GetSessionId() ||
				verified.Scopes[0] != "read" || verified.ExpiresAt.Unix() != created.GetAccessTokenExpiresAt().GetSeconds() {
				t.Fatalf("claims: %+v", verified)
			}
			parts := strings.Split(created.GetAccessToken(), ".")
			signature, _ := base64.RawURLEncoding.DecodeString(parts[2])
			signature[len(signature)/2] ^= 1
			forged := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(signature)
			if _, err := verifier.Verify(forged); !errors.Is(err, sessionclient.ErrInvalidSignature) {
				t.Fatalf("a forged signature gave %v", err)
			}
			if _, err := verifier.Verify(parts[0] + "." + parts[1]); !errors.Is(err, sessionclient.ErrMalformedToken) {
				t.Fatalf("a token without a signature gave %v", err)
			}
		})
	}
}

func TestVerifierRefusesARevokedSessionWithinASecond(t *testing.T) {
	address := target(t, "SESSION_TARGET")
	client := connect(t, address)
	before := create(t, client, "go-bob")
	if _, err := client.Revoke(context.Background(), &sessionv1.RevokeRequest{
		Target: &sessionv1.RevokeRequest_SessionId{SessionId: before.GetSession().GetSessionId()},
	}); err != nil {
		t.Fatal(err)
	}
	verifier := startVerifier(t, address, sessionclient.VerifierOptions{})
	// Revoked before the verifier started: the replay told it.
	if _, err := verifier.Verify(before.GetAccessToken()); !errors.Is(err, sessionclient.ErrSessionRevoked) {
		t.Fatalf("a session revoked before the start gave %v", err)
	}

	created := create(t, client, "go-bob")
	if _, err := verifier.Verify(created.GetAccessToken()); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Revoke(context.Background(), &sessionv1.RevokeRequest{
		Target: &sessionv1.RevokeRequest_SessionId{SessionId: created.GetSession().GetSessionId()},
	}); err != nil {
		t.Fatal(err)
	}
	revokedAt := time.Now()
	for {
		_, err := verifier.Verify(created.GetAccessToken())
		if errors.Is(err, sessionclient.ErrSessionRevoked) {
			if !strings.Contains(err.Error(), "LOGOUT") {
				t.Errorf("the error does not say why: %v", err)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(revokedAt) > time.Second {
			t.Fatal("the revoked session's token was still accepted after a second")
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("revoked token refused %v after Revoke returned", time.Since(revokedAt))
}

func TestVerifierRefusesAnExpiredTokenOnTime(t *testing.T) {
	address := target(t, "SESSION_TARGET")
	created := create(t, connect(t, address), "go-carol")
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	verifier := startVerifier(t, address, sessionclient.VerifierOptions{Clock: clock, Leeway: 5 * time.Second})
	exp := created.GetAccessTokenExpiresAt().AsTime()
	if _, err := verifier.Verify(created.GetAccessToken()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = exp.Add(5*time.Second - time.Millisecond) // within the leeway: still valid
	mu.Unlock()
	if _, err := verifier.Verify(created.GetAccessToken()); err != nil {
		t.Fatalf("refused within the leeway: %v", err)
	}
	mu.Lock()
	now = exp.Add(5 * time.Second)
	mu.Unlock()
	if _, err := verifier.Verify(created.GetAccessToken()); !errors.Is(err, sessionclient.ErrTokenExpired) {
		t.Fatalf("past exp and the leeway gave %v", err)
	}
}

func TestVerifierWithAStaleFeedRefusesWithinTheBound(t *testing.T) {
	address := target(t, "SESSION_TARGET")
	created := create(t, connect(t, address), "go-dave")
	// The verifier reaches the service through a TCP proxy that the test cuts: the
	// revocation stream goes silent, as behind a dead link.
	proxy := startProxy(t, address)
	verifier := startVerifier(t, proxy.address, sessionclient.VerifierOptions{
		MaxStaleness: 500 * time.Millisecond, MaxSilence: 300 * time.Millisecond,
	})
	if _, err := verifier.Verify(created.GetAccessToken()); err != nil {
		t.Fatal(err)
	}
	proxy.cut()
	cut := time.Now()
	for {
		_, err := verifier.Verify(created.GetAccessToken())
		if errors.Is(err, sessionclient.ErrRevocationsStale) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(cut) > 500*time.Millisecond+500*time.Millisecond {
			t.Fatal("a stale verifier still accepted tokens past the bound")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !verifier.Stale() {
		t.Error("Stale() is false while Verify refuses")
	}
	t.Logf("feed cut → token refused after %v (bound 500ms)", time.Since(cut))
}

func TestMutualTLS(t *testing.T) {
	address := target(t, "SESSION_TLS_TARGET")
	config, err := sessionclient.TLSConfigFromFiles(
		os.Getenv("SESSION_CA_FILE"), os.Getenv("SESSION_CLIENT_CERT_FILE"), os.Getenv("SESSION_CLIENT_KEY_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	config.ServerName = "localhost"
	created := create(t, connect(t, address, sessionclient.WithTLS(config)), "go-tls")
	if created.GetAccessToken() == "" {
		t.Fatal("no access token")
	}
	// Without the client certificate the handshake fails.
	withoutCertificate := config.Clone()
	withoutCertificate.Certificates = nil
	client := connect(t, address, sessionclient.WithTLS(withoutCertificate))
	_, err = client.GetJwks(context.Background(), &sessionv1.GetJwksRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("without a client certificate: %v", err)
	}
}

type proxy struct {
	address  string
	listener net.Listener
	mu       sync.Mutex
	conns    []net.Conn
}

func startProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{address: listener.Addr().String(), listener: listener}
	go func() {
		for {
			down, err := listener.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				_ = down.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, down, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, down) }()
			go func() { _, _ = io.Copy(down, up) }()
		}
	}()
	t.Cleanup(func() {
		p.cut()
		for _, c := range p.conns {
			_ = c.Close()
		}
	})
	return p
}

// cut stops forwarding: new connections are refused, open ones go silent.
func (p *proxy) cut() {
	_ = p.listener.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.(*net.TCPConn).SetDeadline(time.Unix(1, 0))
	}
}
