package sessionclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/session-service/session-service/clients/go/sessionv1"
)

// Client is a connection to session-service with the generated stub's methods
// (Create, Get, Refresh, Revoke, Introspect, ...). Every failed call returns an *Error,
// which errors.Is matches against the sentinel of its ErrorInfo reason.
type Client struct {
	sessionv1.SessionServiceClient
	conn *grpc.ClientConn
}

// An Option configures New.
type Option func(*options)

type options struct {
	tls         *tls.Config
	insecure    bool
	callerToken func(context.Context) (string, error)
	timeout     time.Duration
	dial        []grpc.DialOption
}

// WithTLS makes the connection use TLS with this configuration: RootCAs to trust the
// service's certificate, Certificates for mTLS, ServerName when the target's host is not
// the name in the certificate.
func WithTLS(config *tls.Config) Option {
	return func(o *options) { o.tls = config }
}

// WithInsecure allows a plaintext connection to a target that is not this machine.
// Without it New refuses one: plaintext carries tokens readable on the network and would
// make a Verifier trust whatever keys it is sent.
func WithInsecure() Option {
	return func(o *options) { o.insecure = true }
}

// WithCallerToken authenticates this process to the service with a caller token (a JWT
// the service verifies against its caller JWKS), sent as "authorization: Bearer ..." on
// every call. Use it over TLS.
func WithCallerToken(token string) Option {
	return WithCallerTokenFunc(func(context.Context) (string, error) { return token, nil })
}

// WithCallerTokenFile reads the caller token from a file before every call, so that a
// rotated token (a Kubernetes projected service-account token) is picked up.
func WithCallerTokenFile(path string) Option {
	return WithCallerTokenFunc(func(context.Context) (string, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("reading the caller token: %w", err)
		}
		return strings.TrimSpace(string(data)), nil
	})
}

// WithCallerTokenFunc calls token before every call for the caller token to send.
func WithCallerTokenFunc(token func(context.Context) (string, error)) Option {
	return func(o *options) { o.callerToken = token }
}

// WithTimeout is the deadline of a unary call whose context has none (default 5s).
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithDialOptions passes further options to grpc.NewClient (a service config, keepalive,
// interceptors, ...).
func WithDialOptions(dial ...grpc.DialOption) Option {
	return func(o *options) { o.dial = append(o.dial, dial...) }
}

// TLSConfigFromFiles is a TLS configuration that trusts the CA certificates in caFile
// (PEM) and, when certFile and keyFile are given, presents that client certificate (mTLS).
func TLSConfigFromFiles(caFile, certFile, keyFile string) (*tls.Config, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no PEM certificate in %s", caFile)
	}
	config := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile != "" || keyFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return config, nil
}

// New opens a client to target ("host:port", or any gRPC target). The connection is
// made lazily, at the first call. Without WithTLS it is plaintext, which New allows only
// to a loopback or Unix-socket target unless WithInsecure says so explicitly.
func New(target string, opts ...Option) (*Client, error) {
	o := options{timeout: 5 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.tls == nil && !o.insecure && !IsLocalTarget(target) {
		return nil, fmt.Errorf("refusing a plaintext connection to %q: pass WithTLS(...), "+
			"or WithInsecure() to allow plaintext to a non-loopback target", target)
	}
	transport := insecure.NewCredentials()
	if o.tls != nil {
		transport = credentials.NewTLS(o.tls)
	}
	dial := []grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithChainUnaryInterceptor(unaryInterceptor(o.timeout)),
		grpc.WithChainStreamInterceptor(streamInterceptor),
	}
	if o.callerToken != nil {
		dial = append(dial, grpc.WithPerRPCCredentials(callerToken{o.callerToken}))
	}
	conn, err := grpc.NewClient(target, append(dial, o.dial...)...)
	if err != nil {
		return nil, err
	}
	return &Client{SessionServiceClient: sessionv1.NewSessionServiceClient(conn), conn: conn}, nil
}

// Conn is the underlying connection (for other services' stubs on it, e.g. health).
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// IsLocalTarget reports whether a gRPC target names this machine: a Unix socket,
// localhost or a loopback address.
func IsLocalTarget(target string) bool {
	if strings.HasPrefix(target, "unix:") || strings.HasPrefix(target, "unix-abstract:") {
		return true
	}
	host := target
	for _, scheme := range []string{"dns:", "ipv4:", "ipv6:"} {
		if strings.HasPrefix(host, scheme) {
			host = strings.TrimLeft(host[len(scheme):], "/")
			break
		}
	}
	if strings.HasPrefix(host, "[") {
		if end := strings.Index(host, "]"); end >= 0 {
			host = host[1:end]
		}
	} else if strings.Count(host, ":") == 1 {
		host = host[:strings.LastIndex(host, ":")]
	}
	host = strings.ToLower(host)
	if host == "localhost" || host == "ip6-localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.IsLoopback()
}

type callerToken struct {
	token func(context.Context) (string, error)
}

func (c callerToken) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	token, err := c.token(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + token}, nil
}

// RequireTransportSecurity is false so that tests and sidecars on loopback may use a
// token in plaintext; New already refuses plaintext anywhere else unless told to.
func (callerToken) RequireTransportSecurity() bool { return false }

func unaryInterceptor(timeout time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption,
	) error {
		if _, ok := ctx.Deadline(); !ok && timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		return FromError(invoker(ctx, method, req, reply, cc, opts...))
	}
}

func streamInterceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
	streamer grpc.Streamer, opts ...grpc.CallOption,
) (grpc.ClientStream, error) {
	stream, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, FromError(err)
	}
	return convertingStream{stream}, nil
}

type convertingStream struct{ grpc.ClientStream }

func (s convertingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	return FromError(err)
}
