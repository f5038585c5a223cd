"""The Redis key schema. Every key of a user shares the hash tag ``{<user tag>}``.

- ``<prefix>:{<tag>}:s:<nonce>``  a session hash
- ``<prefix>:{<tag>}:u``          the user's index of sessions (sorted set)
- ``<prefix>:{<tag>}:rl:<kind>``  the user's rate-limit bucket for Create (``c``) or Refresh (``r``)
- ``<prefix>:{<tag>}:o``          the user's revocation outbox (events not yet in the stream)
- ``<prefix>:{<tag>}:p:<digest>`` a DPoP proof id seen for one of the user's sessions (replay cache)
- ``<prefix>:{idp-<digest>}:is``  our sessions of an identity provider's session (issuer, sid)
- ``<prefix>:{idp-<digest>}:iu``  our sessions of an identity provider's subject (issuer, sub)
- ``<prefix>:{signal-<digest>}``  the id of a logout token or security event seen (replay cache)
- ``<prefix>:{ssf-<digest>}:lease``     which replica delivers to one SSF receiver (a lease)
- ``<prefix>:{ssf-<digest>}:position``  the stream cursor of the last event that receiver got
- ``<prefix>:{revocations}``      the revocation stream (one for the service, its own slot)
- ``<prefix>:{revocations}:ids``  ids of the outbox events already in the stream
- ``<prefix>:{revocation-outboxes-<n>}``  notes of outboxes that may hold events
  (``PENDING_INDEXES`` of them, in different slots)

Because a session id carries its user's tag, every script's keys (a session, its
user's index and the user's other sessions) fall in one Redis Cluster slot.
"""

from __future__ import annotations

import hashlib

from session_service.domain.ids import SessionId, user_tag

PENDING_INDEXES = 8
"""How many pending-outbox indexes there are: their hash tags fall in different slots, so
with the shards of a production cluster a revocation can note its outbox while a shard is
unreachable."""


class KeySchema:
    """Builds the keys for one configured prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def session_prefix(self, tag: str) -> str:
        """A session's key without its nonce."""
        return f"{self.prefix}:{{{tag}}}:s:"

    def session(self, sid: SessionId) -> str:
        """The key of a session hash."""
        return self.session_prefix(sid.tag) + sid.nonce

    def index(self, tag: str) -> str:
        """The key of a user's session index."""
        return f"{self.prefix}:{{{tag}}}:u"

    def rate_bucket(self, tag: str, kind: str) -> str:
        """The key of a user's token bucket for one kind of call (``c`` Create, ``r`` Refresh)."""
        return f"{self.prefix}:{{{tag}}}:rl:{kind}"

    def dpop_proof(self, tag: str, jkt: str, jti: str) -> str:
        """The replay-cache key of a DPoP proof (its key's thumbprint and id), in the user's slot.

        The id is the client's choice: a digest keeps the key short and its characters tame."""
        digest = hashlib.sha256(f"{jkt} {jti}".encode()).hexdigest()[:32]
        return f"{self.prefix}:{{{tag}}}:p:{digest}"

    def idp_session(self, issuer: str, session_id: str) -> str:
        """The index of our sessions created from an identity provider's session: a slot of
        its own (a digest of issuer and sid), not a user's, since a logout names no user."""
        return f"{self.prefix}:{{idp-{_digest(issuer, session_id)}}}:is"

    def idp_subject(self, issuer: str, subject: str) -> str:
        """The index of our sessions of an identity provider's subject, in a slot of its own."""
        return f"{self.prefix}:{{idp-{_digest(issuer, subject)}}}:iu"

    def signal_seen(self, issuer: str, jti: str) -> str:
        """The replay-cache key of a logout token's or security event's id, per issuer."""
        return f"{self.prefix}:{{signal-{_digest(issuer, jti)}}}"

    def ssf_lease(self, receiver: str) -> str:
        """The delivery lease of an SSF receiver (by its name), in the slot of its position."""
        return f"{self.prefix}:{{ssf-{_digest(receiver)}}}:lease"

    def ssf_position(self, receiver: str) -> str:
        """The stream cursor of the last event delivered to an SSF receiver."""
        return f"{self.prefix}:{{ssf-{_digest(receiver)}}}:position"

    def revocations(self) -> str:
        """The key of the revocation stream that WatchRevocations serves."""
        return f"{self.prefix}:{{revocations}}"

    def outbox(self, tag: str) -> str:
        """The key of a user's revocation outbox (in the user's slot)."""
        return f"{self.prefix}:{{{tag}}}:o"

    def published(self) -> str:
        """The key of the ids of outbox events already appended to the stream."""
        return f"{self.prefix}:{{revocations}}:ids"

    def pending(self, n: int) -> str:
        """The key of the ``n``-th index of outboxes that may hold events."""
        return f"{self.prefix}:{{revocation-outboxes-{n}}}"

    def for_session(self, sid: SessionId) -> list[str]:
        """KEYS of a script that touches one session: the session and its user's index."""
        return [self.session(sid), self.index(sid.tag)]

    def for_user(self, user_id: str) -> tuple[str, str, str]:
        """The user's tag, index key and session key prefix."""
        tag = user_tag(user_id)
        return tag, self.index(tag), self.session_prefix(tag)


def _digest(*parts: str) -> str:
    """A short, tame digest of values an identity provider chose (any length, any characters)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
