"""DPoP (RFC 9449) policy: which proofs the service accepts, for sessions and at its doors.

A proof is checked by :func:`session_wire.dpop.verify_proof` (the checks of section 4.3,
shared with the Python Verifier), then its ``jti`` is recorded in the store's replay
cache, shared by every replica, for as long as the proof could be accepted: a second
use anywhere is refused. With server nonces on, a proof must also carry a current
nonce (section 8); the refusal then hands out the nonce to use.

``Create`` binds a session to the key of a valid proof; every ``Refresh`` of a bound
session needs a proof by that key (the store compares the key atomically with the
rotation); the gateway doors need a proof by the key of the token's ``cnf.jkt``, over
the token's hash (``ath``).
"""

from __future__ import annotations

from session_wire.dpop import (
    DPOP_ALGORITHMS,
    USE_DPOP_NONCE,
    DpopError,
    HttpProof,
    VerifiedProof,
    replay_window_s,
    verify_proof,
)

from session_service.domain.clock import Clock
from session_service.domain.ports import DpopNonces, ProofReplay
from session_service.errors import DpopProofInvalid

__all__ = ["DpopCheck"]


class DpopCheck:
    """Checks proofs and records their ids; failures raise DpopProofInvalid."""

    def __init__(
        self,
        replay: ProofReplay,
        clock: Clock,
        *,
        max_age_s: float,
        leeway_s: float,
        algorithms: tuple[str, ...] = DPOP_ALGORITHMS,
        nonces: DpopNonces | None = None,
    ) -> None:
        """``max_age_s``: how old a proof's ``iat`` may be; ``leeway_s``: clock skew;
        ``nonces``: when given, every proof must carry a current nonce."""
        self._replay = replay
        self._clock = clock
        self._max_age_s = max_age_s
        self._leeway_s = leeway_s
        self._window_ms = int(replay_window_s(max_age_s, leeway_s) * 1000)
        self.algorithms = algorithms
        """The proof algorithms accepted (the ``algs`` of a DPoP challenge)."""
        self._nonces = nonces

    async def verify(
        self, presented: HttpProof, tag: str, *, access_token: str | None = None, jkt: str | None = None
    ) -> VerifiedProof:
        """The proof's key when it is valid for its request and not seen before.

        ``tag``: the user tag of the session it is for (the replay record lives in its
        slot); ``access_token``/``jkt``: the token it comes with and the key it must be
        by. Raises DpopProofInvalid (with the nonce to use when it lacked one) or
        StoreUnavailable."""
        now_ms = self._clock.now_ms()
        nonces = self._nonces
        try:
            verified = verify_proof(
                presented.proof,
                method=presented.method,
                uri=presented.uri,
                now=now_ms / 1000,
                max_age_s=self._max_age_s,
                leeway_s=self._leeway_s,
                access_token=access_token,
                jkt=jkt,
                nonce_valid=None if nonces is None else lambda n: nonces.valid(n, now_ms),
                algorithms=self.algorithms,
            )
        except DpopError as e:
            nonce = nonces.current(now_ms) if nonces is not None and e.error == USE_DPOP_NONCE else ""
            raise DpopProofInvalid(str(e), nonce) from e
        if not await self._replay.first_use(tag, verified.jkt, verified.jti, self._window_ms):
            raise DpopProofInvalid("the proof's jti was used before")
        return verified
