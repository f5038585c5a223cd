package sessionclient

import (
	"container/heap"
	"sync"
	"time"
)

// revocationView holds what a Verifier knows of revoked sessions and how fresh that is,
// by the rules of the Python client's session_wire.revocations.RevocationView:
//
//   - a revoked session is remembered until every access token it could have had has
//     expired (its event's expires_at plus the leeway), then forgotten;
//   - a new connection first replays what was missed, so the view is complete again only
//     once that connection says it has caught up; from then on every message (an event
//     or a heartbeat) renews it;
//   - the view is fresh while its last renewal is at most maxStaleness old;
//   - after the stream could not resume from the view's cursor (cursor_reset), a token
//     issued at that moment or earlier is not vouched for.
//
// clock gives the time for expiry and issue times (injectable); staleness is measured
// on Go's monotonic clock.
type revocationView struct {
	leeway       time.Duration
	maxStaleness time.Duration
	clock        func() time.Time

	mu           sync.Mutex
	revoked      map[string]revokedSession
	expiry       expiryHeap
	cursor       string
	live         bool
	lastContact  time.Time // zero before the first message
	freshAt      time.Time // zero before the stream first caught up
	missedBefore time.Time // zero when no revocation may have been missed
}

type revokedSession struct {
	forgetAfter time.Time
	reason      string
}

// revocationEvent is one Revocation of the stream: sessions that ended together.
type revocationEvent struct {
	sessionIDs []string
	expiresAt  time.Time
	reason     string
}

func newRevocationView(leeway, maxStaleness time.Duration, clock func() time.Time) *revocationView {
	return &revocationView{
		leeway: leeway, maxStaleness: maxStaleness, clock: clock,
		revoked: map[string]revokedSession{},
	}
}

// reconnecting: until the new connection has caught up, its messages do not renew the view.
func (v *revocationView) reconnecting() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.live = false
}

// apply takes in one message of the stream.
func (v *revocationView) apply(events []revocationEvent, cursor string, cursorReset, caughtUp bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastContact = time.Now()
	if caughtUp {
		v.live = true
	}
	if v.live {
		v.freshAt = v.lastContact
	}
	now := v.clock()
	if cursorReset {
		v.missedBefore = now
	}
	for _, event := range events {
		forgetAfter := event.expiresAt.Add(v.leeway)
		if !forgetAfter.After(now) {
			continue
		}
		for _, sid := range event.sessionIDs {
			known, ok := v.revoked[sid]
			if !ok || forgetAfter.After(known.forgetAfter) {
				v.revoked[sid] = revokedSession{forgetAfter, event.reason}
				heap.Push(&v.expiry, expiryEntry{forgetAfter, sid})
			}
		}
	}
	if cursor != "" {
		v.cursor = cursor
	}
	v.forgetExpired(now)
}

func (v *revocationView) currentCursor() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.cursor
}

// staleness is the time since the view was last known complete (-1 before it first caught up).
func (v *revocationView) staleness() time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.freshAt.IsZero() {
		return -1
	}
	return time.Since(v.freshAt)
}

// fresh reports whether the view is complete enough to trust for a token issued at issuedAt.
func (v *revocationView) fresh(issuedAt time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.freshAt.IsZero() || time.Since(v.freshAt) > v.maxStaleness {
		return false
	}
	return v.missedBefore.IsZero() || issuedAt.After(v.missedBefore)
}

// revokedReason reports whether a revocation of the session is known (and its tokens
// could still be valid), and why it ended ("" when unknown).
func (v *revocationView) revokedReason(sessionID string) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.forgetExpired(v.clock())
	known, ok := v.revoked[sessionID]
	return known.reason, ok
}

func (v *revocationView) mayHaveMissedBefore() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.missedBefore
}

func (v *revocationView) forgetExpired(now time.Time) {
	for len(v.expiry) > 0 && !v.expiry[0].forgetAfter.After(now) {
		entry := heap.Pop(&v.expiry).(expiryEntry)
		if known, ok := v.revoked[entry.sessionID]; ok && known.forgetAfter.Equal(entry.forgetAfter) {
			delete(v.revoked, entry.sessionID)
		}
	}
}

type expiryEntry struct {
	forgetAfter time.Time
	sessionID   string
}

type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].forgetAfter.Before(h[j].forgetAfter) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	last := old[len(old)-1]
	*h = old[:len(old)-1]
	return last
}
