"""Test certificates made with ``cryptography``: CAs, server and client certificates, PEM files.

Keys are ECDSA P-256 (fast to generate). Typical use::

    ca = CertificateAuthority("test CA")
    server = ca.issue_server()  # SANs: DNS localhost, IP 127.0.0.1
    client = ca.issue_client(uri="spiffe://cluster.local/ns/shop/sa/login")
    expired = ca.issue_client(dns="old.example", expired=True)
    stranger = CertificateAuthority("other CA").issue_client(dns="x.example")
    cert_file, key_file = server.write(tmp_path, "server")

:class:`SecretMount` lays files out like a Kubernetes Secret volume (symlinks through
``..data``) and replaces them the way the kubelet does, with one atomic rename.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAY = dt.timedelta(days=1)
_mounts = itertools.count()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def write_atomically(path: Path, data: bytes) -> Path:
    """Writes ``data`` to a temporary file and renames it over ``path``, as careful writers do."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    cert: x509.Certificate
    """The certificate."""
    key: ec.EllipticCurvePrivateKey
    """Its private key."""
    chain: tuple[x509.Certificate, ...] = ()
    """Intermediates written after the certificate, if any."""

    @property
    def cert_pem(self) -> bytes:
        """The certificate (and chain) in PEM."""
        return b"".join(c.public_bytes(Encoding.PEM) for c in (self.cert, *self.chain))

    @property
    def key_pem(self) -> bytes:
        """The private key in PEM."""
        return key_pem(self.key)

    @property
    def serial_number(self) -> int:
        """The certificate's serial number."""
        return self.cert.serial_number

    def write(self, folder: Path, stem: str) -> tuple[Path, Path]:
        """Writes ``<stem>.crt`` and ``<stem>.key`` into ``folder``; returns their paths."""
        folder.mkdir(parents=True, exist_ok=True)
        return (
            write_atomically(folder / f"{stem}.crt", self.cert_pem),
            write_atomically(folder / f"{stem}.key", self.key_pem),
        )


class CertificateAuthority:
    """A self-signed CA that issues server and client certificates."""

    def __init__(self, name: str = "session-service test CA") -> None:
        """Makes the CA key and certificate, valid from yesterday for ten days."""
        self.key = new_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _now()
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY)
            .not_valid_after(now + 10 * _DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    @property
    def cert_pem(self) -> bytes:
        """The CA certificate in PEM (what clients or servers trust)."""
        return self.cert.public_bytes(Encoding.PEM)

    def write(self, folder: Path, name: str = "ca.crt") -> Path:
        """Writes the CA certificate into ``folder``; returns its path."""
        folder.mkdir(parents=True, exist_ok=True)
        return write_atomically(folder / name, self.cert_pem)

    def issue(
        self,
        common_name: str,
        names: Sequence[x509.GeneralName],
        usage: x509.ObjectIdentifier,
        *,
        key: ec.EllipticCurvePrivateKey | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        serial_number: int | None = None,
    ) -> Issued:
        """A leaf certificate with these SANs and extended key usage."""
        key = key or new_key()
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial_number or x509.random_serial_number())
            .not_valid_before(not_before or now - _DAY)
            .not_valid_after(not_after or now + 2 * _DAY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
        return Issued(builder.sign(self.key, hashes.SHA256()), key)

    def issue_server(
        self,
        hosts: Sequence[str] = ("localhost", "127.0.0.1"),
        *,
        serial_number: int | None = None,
        expired: bool = False,
    ) -> Issued:
        """A server certificate whose SANs are ``hosts`` (IP SANs for addresses, DNS SANs otherwise)."""
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        not_before, not_after = _validity(expired)
        return self.issue(
            hosts[0],
            names,
            ExtendedKeyUsageOID.SERVER_AUTH,
            serial_number=serial_number,
            not_before=not_before,
            not_after=not_after,
        )

    def issue_client(
        self,
        *,
        uri: str | None = None,
        dns: str | None = None,
        expired: bool = False,
    ) -> Issued:
        """A client certificate with a URI SAN and/or a DNS SAN (URI first); no SAN if neither."""
        names: list[x509.GeneralName] = []
        if uri is not None:
            names.append(x509.UniformResourceIdentifier(uri))
        if dns is not None:
            names.append(x509.DNSName(dns))
        not_before, not_after = _validity(expired)
        return self.issue(
            uri or dns or "client",
            names,
            ExtendedKeyUsageOID.CLIENT_AUTH,
            not_before=not_before,
            not_after=not_after,
        )


def _validity(expired: bool) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(not_before, not_after): the defaults, or a window that ended yesterday."""
    if not expired:
        return None, None
    now = _now()
    return now - 3 * _DAY, now - _DAY


class SecretMount:
    """A folder laid out like a Kubernetes Secret volume, updated like the kubelet does.

    ``<folder>/<name>`` → ``..data/<name>``, ``..data`` → ``..<generation>``; an update
    writes a new ``..<generation>`` folder and renames a new ``..data`` symlink over the
    old one, so every file changes at once.
    """

    def __init__(self, folder: Path, files: Mapping[str, bytes]) -> None:
        """Creates the folder with ``files`` (name → content)."""
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._current: Path | None = None
        self.update(files)
        for name in files:
            (folder / name).symlink_to(Path("..data") / name)

    def path(self, name: str) -> Path:
        """The path a consumer is configured with."""
        return self.folder / name

    def update(self, files: Mapping[str, bytes]) -> None:
        """Replaces every file at once (the names must stay those given at creation)."""
        generation = self.folder / f"..{next(_mounts)}_{os.getpid()}"
        generation.mkdir()
        for name, data in files.items():
            (generation / name).write_bytes(data)
        staging = self.folder / "..data_tmp"
        staging.symlink_to(generation.name)
        os.replace(staging, self.folder / "..data")
        old, self._current = self._current, generation
        if old is not None:
            for child in old.iterdir():
                child.unlink()
            old.rmdir()
