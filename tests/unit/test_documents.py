"""The settings documents' reader and the loopback rule shared by every file that names URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from session_service.errors import ConfigError
from session_service.security.documents import is_loopback_host, load_document, yaml_allowed
from session_service.security.upstream import load_issuers
from session_service.transport.ssf_transmitter_receivers import parse_receivers


@pytest.mark.parametrize(
    ("data", "as_yaml", "message"),
    [
        (b'{"a": 1, "a": 2}', False, "duplicate key 'a'"),
        (b"a: 1\na: 2\n", True, "duplicate key 'a'"),
        (b"a: [1,\n", True, "not valid YAML at line"),
        (b"{", False, "not valid JSON"),
        (b"a: 1", False, "not valid JSON"),
    ],
)
def test_invalid_documents_say_where_and_never_keep_a_repeated_key(
    data: bytes, as_yaml: bool, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_document(data, yaml_allowed=as_yaml)


def test_yaml_reads_json_and_a_json_file_is_read_as_json_only() -> None:
    assert load_document(b'{"a": [1, "x"]}', yaml_allowed=True) == {"a": [1, "x"]}
    assert yaml_allowed(Path("p.yaml")) and yaml_allowed(Path("p")) and not yaml_allowed(Path("p.JSON"))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("[::1]", True),
        ("::1", True),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
        ("[::ffff:10.0.0.1]", False),
        ("", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_both_files_that_name_urls_apply_the_same_rule(tmp_path: Path) -> None:
    receivers = parse_receivers(b"receivers:\n  - endpoint: http://localhost:9/events\n    audience: a\n")
    assert receivers[0].endpoint == "http://localhost:9/events"
    with pytest.raises(ValueError, match="plain http only to a loopback"):
        parse_receivers(b"receivers:\n  - endpoint: http://billing:9/events\n    audience: a\n")
    issuers = tmp_path / "issuers.yaml"
    issuers.write_text(
        "issuers:\n  - issuer: https://idp\n    audience: us\n    jwks_uri: http://billing/jwks\n"
    )
    with pytest.raises(ConfigError, match="plain http only to a loopback"):
        load_issuers(issuers, "SESSION_OIDC_LOGOUT_ISSUERS_FILE")
    issuers.write_text("issuers: []\nissuers: []\n")
    with pytest.raises(ConfigError, match="duplicate key 'issuers'"):
        load_issuers(issuers, "SESSION_OIDC_LOGOUT_ISSUERS_FILE")
