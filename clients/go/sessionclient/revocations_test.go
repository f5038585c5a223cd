package sessionclient

import (
	"testing"
	"time"
)

func TestViewIsFreshOnlyAfterCatchingUpAndWithinTheBound(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	view := newRevocationView(5*time.Second, 50*time.Millisecond, func() time.Time { return now })
	if view.fresh(now) {
		t.Fatal("fresh before any message")
	}
	view.apply(nil, "c1", false, false) // replay still going on
	if view.fresh(now) {
		t.Fatal("fresh before the replay caught up")
	}
	view.apply(nil, "c2", false, true)
	if !view.fresh(now) || view.currentCursor() != "c2" {
		t.Fatal("not fresh after catching up")
	}
	time.Sleep(60 * time.Millisecond)
	if view.fresh(now) {
		t.Fatal("still fresh past max staleness")
	}
	view.apply(nil, "", false, false) // a heartbeat renews it and keeps the cursor
	if !view.fresh(now) || view.currentCursor() != "c2" {
		t.Fatal("a heartbeat did not renew the view")
	}
	view.reconnecting()
	view.apply(nil, "c3", false, false)
	time.Sleep(60 * time.Millisecond)
	if view.fresh(now) {
		t.Fatal("a new connection's replay renewed the view")
	}
}

func TestCursorResetVouchesOnlyForTokensIssuedAfterIt(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	view := newRevocationView(5*time.Second, time.Minute, func() time.Time { return now })
	view.apply(nil, "c1", true, true)
	if view.fresh(now) || view.fresh(now.Add(-time.Second)) {
		t.Fatal("a token issued before the reset was vouched for")
	}
	if !view.fresh(now.Add(time.Second)) {
		t.Fatal("a token issued after the reset was refused")
	}
}

func TestRevocationIsForgottenOnceItsTokensHaveExpired(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	view := newRevocationView(5*time.Second, time.Minute, func() time.Time { return now })
	view.apply([]revocationEvent{{[]string{"s1"}, now.Add(10 * time.Second), "LOGOUT"}}, "c1", false, true)
	if reason, revoked := view.revokedReason("s1"); !revoked || reason != "LOGOUT" {
		t.Fatalf("s1 revoked=%v reason=%q", revoked, reason)
	}
	now = now.Add(15*time.Second - time.Millisecond)
	if _, revoked := view.revokedReason("s1"); !revoked {
		t.Fatal("forgotten within the leeway")
	}
	now = now.Add(time.Millisecond)
	if _, revoked := view.revokedReason("s1"); revoked {
		t.Fatal("remembered after its tokens expired")
	}
	view.apply([]revocationEvent{{[]string{"s2"}, now.Add(-6 * time.Second), ""}}, "c2", false, false)
	if _, revoked := view.revokedReason("s2"); revoked {
		t.Fatal("an already expired revocation was kept")
	}
}
