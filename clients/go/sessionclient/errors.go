package sessionclient

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/session-service/session-service/clients/go/sessionv1"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of every error the service reports.
const ErrorDomain = "session.v1"

// reasonError is the type of the sentinel errors, one per sessionv1.ErrorReason value.
type reasonError struct{ reason sessionv1.ErrorReason }

func (r *reasonError) Error() string { return "session.v1: " + r.reason.String() }

// Reason is the ErrorInfo reason this sentinel stands for.
func (r *reasonError) Reason() sessionv1.ErrorReason { return r.reason }

// The sentinel errors, one per ErrorReason of protos/session/v1/errors.proto (a test
// fails when the enum gains a value without one here). A failed call returns an *Error
// that matches its reason's sentinel with errors.Is:
//
//	if errors.Is(err, sessionclient.ErrRefreshTokenReused) { ... }
var (
	ErrInvalidArgument          = sentinel(sessionv1.ErrorReason_INVALID_ARGUMENT)
	ErrSessionNotFound          = sentinel(sessionv1.ErrorReason_SESSION_NOT_FOUND)
	ErrRefreshTokenInvalid      = sentinel(sessionv1.ErrorReason_REFRESH_TOKEN_INVALID)
	ErrRefreshTokenReused       = sentinel(sessionv1.ErrorReason_REFRESH_TOKEN_REUSED)
	ErrVersionMismatch          = sentinel(sessionv1.ErrorReason_VERSION_MISMATCH)
	ErrSessionLimitReached      = sentinel(sessionv1.ErrorReason_SESSION_LIMIT_REACHED)
	ErrSessionDataTooLarge      = sentinel(sessionv1.ErrorReason_SESSION_DATA_TOO_LARGE)
	ErrStoreUnavailable         = sentinel(sessionv1.ErrorReason_STORE_UNAVAILABLE)
	ErrCallerUnauthenticated    = sentinel(sessionv1.ErrorReason_CALLER_UNAUTHENTICATED)
	ErrCallerNotAllowed         = sentinel(sessionv1.ErrorReason_CALLER_NOT_ALLOWED)
	ErrRateLimited              = sentinel(sessionv1.ErrorReason_RATE_LIMITED)
	ErrOverloaded               = sentinel(sessionv1.ErrorReason_OVERLOADED)
	ErrStoreFull                = sentinel(sessionv1.ErrorReason_STORE_FULL)
	ErrSessionClientMismatch    = sentinel(sessionv1.ErrorReason_SESSION_CLIENT_MISMATCH)
	ErrDpopProofInvalid         = sentinel(sessionv1.ErrorReason_DPOP_PROOF_INVALID)
	ErrSubjectTokenInvalid      = sentinel(sessionv1.ErrorReason_SUBJECT_TOKEN_INVALID)
	ErrExchangeNotAllowed       = sentinel(sessionv1.ErrorReason_EXCHANGE_NOT_ALLOWED)
	ErrReauthenticationRequired = sentinel(sessionv1.ErrorReason_REAUTHENTICATION_REQUIRED)
)

var sentinels = map[sessionv1.ErrorReason]*reasonError{}

func sentinel(reason sessionv1.ErrorReason) error {
	s := &reasonError{reason}
	sentinels[reason] = s
	return s
}

// SentinelFor is the sentinel error of an ErrorInfo reason; nil for a reason this
// client does not know (a service newer than the client) and for UNSPECIFIED.
func SentinelFor(reason sessionv1.ErrorReason) error {
	if s, ok := sentinels[reason]; ok {
		return s
	}
	return nil
}

// Error is what every failed call returns: the gRPC status with the details the service
// attaches to it. errors.Is matches the sentinel of its reason; status.FromError and
// status.Code see the original status.
type Error struct {
	// Reason is the ErrorInfo reason ("SESSION_NOT_FOUND"); "" when the failure carries
	// none (a transport error, a deadline).
	Reason string
	// Domain is the ErrorInfo domain, ErrorDomain for the service's own errors.
	Domain string
	// Metadata is the ErrorInfo metadata, e.g. "dpop_nonce" for DPOP_PROOF_INVALID.
	Metadata map[string]string
	// FieldViolations lists, for INVALID_ARGUMENT, each offending field with what is wrong.
	FieldViolations map[string]string
	// RetryAfter comes from a google.rpc.RetryInfo (RATE_LIMITED, OVERLOADED); 0 without one.
	RetryAfter time.Duration

	status *status.Status
}

// Code is the gRPC status code.
func (e *Error) Code() codes.Code { return e.status.Code() }

// Message is the status message.
func (e *Error) Message() string { return e.status.Message() }

// GRPCStatus lets status.FromError and status.Code see the call's status.
func (e *Error) GRPCStatus() *status.Status { return e.status }

func (e *Error) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("session.v1: %s: %s", e.Code(), e.Message())
	}
	return fmt.Sprintf("session.v1: %s (%s): %s", e.Reason, e.Code(), e.Message())
}

// Is matches the sentinel error of the ErrorInfo reason.
func (e *Error) Is(target error) bool {
	s, ok := target.(*reasonError)
	return ok && e.Domain == ErrorDomain && s.reason.String() == e.Reason
}

// FromError converts an error returned by a gRPC call into an *Error (nil stays nil; an
// error that carries no gRPC status is returned as it is). The Client's calls already
// return converted errors; this is for calls made on other stubs of its connection.
func FromError(err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &Error{status: st}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			e.Reason, e.Domain, e.Metadata = d.GetReason(), d.GetDomain(), d.GetMetadata()
		case *errdetails.BadRequest:
			e.FieldViolations = map[string]string{}
			for _, v := range d.GetFieldViolations() {
				e.FieldViolations[v.GetField()] = v.GetDescription()
			}
		case *errdetails.RetryInfo:
			e.RetryAfter = d.GetRetryDelay().AsDuration()
		}
	}
	return e
}
