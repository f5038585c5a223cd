"""Server TLS and mutual TLS, with certificates rotated on disk without a restart.

Settings (their values are file paths, e.g. a cert-manager Secret mount):

- ``SESSION_TLS_CERT_FILE``: the server certificate in PEM, leaf first, then any
  intermediates;
- ``SESSION_TLS_KEY_FILE``: its private key in PEM (unencrypted PKCS#8, PKCS#1 or SEC1);
- ``SESSION_TLS_CLIENT_CA_FILE`` (optional): the CA certificates that client
  certificates must chain to. When set, every client must present a valid, unexpired
  certificate from one of them (mTLS) or the handshake fails; when unset, clients are
  not asked for a certificate.

Usage::

    tls = ServerTls(cert_file, key_file, client_ca_file)  # ConfigError if the files are bad
    async with tls:  # watches the files until the block ends
        server.add_secure_port(address, tls.server_credentials())

Rotation: gRPC asks :meth:`ServerTls.server_credentials`' fetcher before every new
handshake; it hands over the new certificate, key and client CAs once they changed on
disk, load, and the key matches the certificate. A rotation that does not load is
logged and the previous files keep being served. Connections already established keep
their TLS session, so calls in flight are never dropped; the next new connection gets
the new certificate. The fetcher runs on a gRPC thread: it only compares a generation
number, plus a stat of the files at most every ``handshake_check_interval`` seconds, so
a rotation is seen even when the watch task is not running.

The client certificate gRPC verified is in ``context.auth_context()``;
:func:`session_service.security.caller.identity_from_auth_context` turns it into the
caller's identity.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

from session_service.security.reload import DEFAULT_POLL_INTERVAL, InvalidFile, Reloader, Watching

log = logging.getLogger(__name__)

CERT_FILE_SETTING = "SESSION_TLS_CERT_FILE"
KEY_FILE_SETTING = "SESSION_TLS_KEY_FILE"
CLIENT_CA_FILE_SETTING = "SESSION_TLS_CLIENT_CA_FILE"

DEFAULT_HANDSHAKE_CHECK_INTERVAL = 1.0
"""Seconds between two stat checks made from the handshake path."""


@dataclass(frozen=True)
class TlsMaterial:
    """One validated set of server TLS files, ready to hand to gRPC."""

    certificate_chain: bytes
    """The PEM certificate chain, leaf first, as read."""
    # repr=False: a logged or printed TlsMaterial must not show the key.
    private_key: bytes = field(repr=False)
    """The PEM private key of the leaf, as read."""
    client_ca: bytes | None
    """The PEM CA certificates that client certificates must chain to; None without mTLS."""
    serial_number: int
    """The leaf's serial number, to tell rotations apart in logs."""
    not_valid_after: datetime
    """When the leaf expires (UTC)."""
    configuration: grpc.ServerCertificateConfiguration
    """What gRPC serves for this material."""


def load_tls_material(
    certificate_chain: bytes,
    private_key: bytes,
    client_ca: bytes | None,
    *,
    now: datetime | None = None,
) -> TlsMaterial:
    """Validates PEM material and builds its gRPC certificate configuration.

    Raises :class:`~session_service.security.reload.InvalidFile` (a ValueError) naming
    the setting at fault when the chain, the key or the client CAs do not load, or the
    key does not belong to the leaf certificate. An expired or not yet valid leaf is
    logged but accepted: refusing it would keep serving an older, no better one.
    """
    try:
        chain = x509.load_pem_x509_certificates(certificate_chain)
    except ValueError as e:
        raise InvalidFile(CERT_FILE_SETTING, "not a PEM certificate chain") from e
    leaf = chain[0]
    try:
        key = load_pem_private_key(private_key, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        # TypeError is an encrypted key: gRPC cannot use one.
        raise InvalidFile(KEY_FILE_SETTING, "not an unencrypted PEM private key") from e
    spki = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != leaf.public_key().public_bytes(*spki):
        raise InvalidFile(KEY_FILE_SETTING, "the private key does not belong to the certificate")
    if client_ca is not None:
        try:
            x509.load_pem_x509_certificates(client_ca)
        except ValueError as e:
            raise InvalidFile(CLIENT_CA_FILE_SETTING, "not a PEM certificate list") from e

    moment = now or datetime.now(UTC)
    if not leaf.not_valid_before_utc <= moment <= leaf.not_valid_after_utc:
        log.warning(
            "%s: the server certificate (serial %x) is valid only from %s to %s",
            CERT_FILE_SETTING,
            leaf.serial_number,
            leaf.not_valid_before_utc.isoformat(),
            leaf.not_valid_after_utc.isoformat(),
        )
    configuration = grpc.ssl_server_certificate_configuration(
        [(private_key, certificate_chain)], root_certificates=client_ca
    )
    return TlsMaterial(
        certificate_chain=certificate_chain,
        private_key=private_key,
        client_ca=client_ca,
        serial_number=leaf.serial_number,
        not_valid_after=leaf.not_valid_after_utc,
        configuration=configuration,
    )


class ServerTls(Watching):
    """The server's TLS files, reloaded when they change, as gRPC server credentials."""

    def __init__(
        self,
        cert_file: Path,
        key_file: Path,
        client_ca_file: Path | None = None,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        handshake_check_interval: float = DEFAULT_HANDSHAKE_CHECK_INTERVAL,
    ) -> None:
        """Loads the files now; raises ConfigError naming the setting when one is bad.

        A ``client_ca_file`` turns on mTLS: every client must present a certificate
        that chains to it.
        """
        files = {CERT_FILE_SETTING: Path(cert_file), KEY_FILE_SETTING: Path(key_file)}
        if client_ca_file is not None:
            files[CLIENT_CA_FILE_SETTING] = Path(client_ca_file)
        self._mutual = client_ca_file is not None
        self._handshake_check_interval = handshake_check_interval
        self._next_check = time.monotonic() + handshake_check_interval
        self._files: Reloader[TlsMaterial] = Reloader(files, self._parse, poll_interval=poll_interval)
        self._watched = self._files
        material = self._files.value
        log.info(
            "serving TLS certificate serial %x (expires %s)%s",
            material.serial_number,
            material.not_valid_after.isoformat(),
            ", client certificates required" if self._mutual else "",
        )

    def _parse(self, contents: Mapping[str, bytes]) -> TlsMaterial:
        return load_tls_material(
            contents[CERT_FILE_SETTING],
            contents[KEY_FILE_SETTING],
            contents.get(CLIENT_CA_FILE_SETTING),
        )

    @property
    def mutual(self) -> bool:
        """Whether clients must present a certificate (a client CA file is set)."""
        return self._mutual

    @property
    def material(self) -> TlsMaterial:
        """The latest valid TLS material; the next new connection gets it."""
        return self._files.value

    def check(self) -> bool:
        """Looks at the files now; True when new material was loaded."""
        return self._files.check()

    def server_credentials(self) -> grpc.ServerCredentials:
        """Credentials for ``server.add_secure_port`` that follow rotations of the files."""
        generation, material = self._files.current
        return grpc.dynamic_ssl_server_credentials(
            material.configuration,
            # types-grpcio says the fetcher may not return None, but None ("no change")
            # is what grpc documents and expects on almost every handshake.
            _CertificateFetcher(self, generation),  # type: ignore[arg-type]
            require_client_authentication=self._mutual,
        )

    def _check_if_due(self) -> None:
        now = time.monotonic()
        if now >= self._next_check:
            # Racing handshake threads may both pass here; check() lets one of them in.
            self._next_check = now + self._handshake_check_interval
            self._files.check()


class _CertificateFetcher:
    """gRPC's certificate_configuration_fetcher: new material once per reload, else None."""

    def __init__(self, tls: ServerTls, served_generation: int) -> None:
        self._tls = tls
        self._served_generation = served_generation
        self._lock = threading.Lock()

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        try:
            self._tls._check_if_due()
            generation, material = self._tls._files.current
            with self._lock:
                if generation == self._served_generation:
                    return None
                self._served_generation = generation
            log.info(
                "serving rotated TLS certificate serial %x (expires %s) to new connections",
                material.serial_number,
                material.not_valid_after.isoformat(),
            )
            return material.configuration
        except Exception:
            # An exception here would fail the handshake; keeping the current
            # certificate is always the better outcome.
            log.exception("TLS certificate fetcher failed; keeping the current certificate")
            return None
