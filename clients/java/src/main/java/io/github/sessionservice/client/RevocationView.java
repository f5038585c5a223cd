package io.github.sessionservice.client;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * What a {@link Verifier} knows of revoked sessions and how fresh that is, by the rules of the
 * Python client's session_wire.revocations.RevocationView:
 *
 * <ul>
 *   <li>a revoked session is remembered until every access token it could have had has expired
 *       (its event's expires_at plus the leeway), then forgotten;
 *   <li>a new connection first replays what was missed, so the view is complete again only once
 *       that connection says it has caught up; from then on every message (an event or a
 *       heartbeat) renews it;
 *   <li>the view is fresh while its last renewal is at most maxStaleness old;
 *   <li>after the stream could not resume from the view's cursor (cursor_reset), a token issued
 *       at that moment or earlier is not vouched for.
 * </ul>
 *
 * The clock judges expiry and issue times; staleness is measured on {@link System#nanoTime()}.
 */
final class RevocationView {
  /** Sessions that ended together. */
  record Event(List<String> sessionIds, Instant expiresAt, String reason) {}

  private record Revoked(Instant forgetAfter, String reason) {}

  private record Expiry(Instant forgetAfter, String sessionId) {}

  private final Duration leeway;
  private final Duration maxStaleness;
  private final Clock clock;
  private final Map<String, Revoked> revoked = new HashMap<>();
  private final PriorityQueue<Expiry> expiry =
      new PriorityQueue<>((a, b) -> a.forgetAfter().compareTo(b.forgetAfter()));
  private String cursor = "";
  private boolean live;
  private long freshAtNanos;
  private boolean everFresh;
  private Instant missedBefore;

  RevocationView(Duration leeway, Duration maxStaleness, Clock clock) {
    this.leeway = leeway;
    this.maxStaleness = maxStaleness;
    this.clock = clock;
  }

  /** A new connection begins: until it has caught up, its messages do not renew the view. */
  synchronized void reconnecting() {
    live = false;
  }

  /** Takes in one message of the stream. */
  synchronized void apply(List<Event> events, String newCursor, boolean cursorReset, boolean caughtUp) {
    long contact = System.nanoTime();
    if (caughtUp) {
      live = true;
    }
    if (live) {
      freshAtNanos = contact;
      everFresh = true;
    }
    Instant now = clock.instant();
    if (cursorReset) {
      missedBefore = now;
    }
    for (Event event : events) {
      Instant forgetAfter = event.expiresAt().plus(leeway);
      if (!forgetAfter.isAfter(now)) {
        continue;
      }
      for (String sid : event.sessionIds()) {
        Revoked known = revoked.get(sid);
        if (known == null || forgetAfter.isAfter(known.forgetAfter())) {
          revoked.put(sid, new Revoked(forgetAfter, event.reason()));
          expiry.add(new Expiry(forgetAfter, sid));
        }
      }
    }
    if (!newCursor.isEmpty()) {
      cursor = newCursor;
    }
    forgetExpired(now);
  }

  synchronized String cursor() {
    return cursor;
  }

  /** Since the view was last known complete; null before it first caught up. */
  synchronized Duration staleness() {
    return everFresh ? Duration.ofNanos(System.nanoTime() - freshAtNanos) : null;
  }

  /** Whether the view is complete enough to trust for a token issued at {@code issuedAt}. */
  synchronized boolean fresh(Instant issuedAt) {
    if (!everFresh || System.nanoTime() - freshAtNanos > maxStaleness.toNanos()) {
      return false;
    }
    return missedBefore == null || issuedAt.isAfter(missedBefore);
  }

  /** Before this time revocations may have been missed; null when none were. */
  synchronized Instant missedBefore() {
    return missedBefore;
  }

  /** Why the session ended when its revocation is known (and still matters); null otherwise. */
  synchronized String revokedReason(String sessionId) {
    forgetExpired(clock.instant());
    Revoked known = revoked.get(sessionId);
    return known == null ? null : known.reason();
  }

  private void forgetExpired(Instant now) {
    while (!expiry.isEmpty() && !expiry.peek().forgetAfter().isAfter(now)) {
      Expiry entry = expiry.poll();
      Revoked known = revoked.get(entry.sessionId());
      if (known != null && known.forgetAfter().equals(entry.forgetAfter())) {
        revoked.remove(entry.sessionId());
      }
    }
  }
}
