package sessionclient

import (
	"errors"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/session-service/session-service/clients/go/sessionv1"
)

func TestEveryErrorReasonHasASentinel(t *testing.T) {
	for value, name := range sessionv1.ErrorReason_name {
		reason := sessionv1.ErrorReason(value)
		if reason == sessionv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
			if SentinelFor(reason) != nil {
				t.Errorf("UNSPECIFIED is never sent: it needs no sentinel")
			}
			continue
		}
		if SentinelFor(reason) == nil {
			t.Errorf("errors.proto's %s has no sentinel error in errors.go", name)
		}
	}
	if len(sentinels) != len(sessionv1.ErrorReason_name)-1 {
		t.Errorf("%d sentinels for %d reasons", len(sentinels), len(sessionv1.ErrorReason_name)-1)
	}
}

func TestFailedCallMatchesItsReasonsSentinelAndKeepsItsStatus(t *testing.T) {
	st, err := status.New(codes.InvalidArgument, "user_id is required").WithDetails(
		&errdetails.ErrorInfo{Reason: "INVALID_ARGUMENT", Domain: ErrorDomain},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "user_id", Description: "required"},
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	converted := FromError(st.Err())
	if !errors.Is(converted, ErrInvalidArgument) || errors.Is(converted, ErrSessionNotFound) {
		t.Fatalf("%v does not match only its own sentinel", converted)
	}
	if status.Code(converted) != codes.InvalidArgument {
		t.Errorf("status.Code = %v", status.Code(converted))
	}
	var e *Error
	if !errors.As(converted, &e) || e.FieldViolations["user_id"] != "required" {
		t.Errorf("field violations lost: %#v", e)
	}
	// Another domain's reason of the same name is not ours.
	other, _ := status.New(codes.NotFound, "x").WithDetails(
		&errdetails.ErrorInfo{Reason: "SESSION_NOT_FOUND", Domain: "other.v1"})
	if errors.Is(FromError(other.Err()), ErrSessionNotFound) {
		t.Error("a reason of another domain matched")
	}
	if FromError(nil) != nil {
		t.Error("nil must stay nil")
	}
}
