"""Refresh tokens under the service's MAC: minted, verified, refused when altered; the key file."""

from __future__ import annotations

import base64
import dataclasses
import secrets
from pathlib import Path

import pytest

from session_service.domain.ids import RefreshToken, new_refresh_secret, new_session_id, parse_refresh_token
from session_service.errors import ConfigError
from session_service.tokens.refresh import KEYS_FILE_SETTING, RefreshTokenCodec, RefreshTokenKeys


def test_issued_token_verifies_and_carries_its_generation() -> None:
    codec = RefreshTokenCodec(RefreshTokenKeys.generate())
    sid = new_session_id("alice")
    token = codec.issue(sid, 5)
    assert token.generation == 5 and token.session_id == sid
    assert codec.verify(str(token)) == token


@pytest.mark.parametrize("part", ["generation", "secret", "mac", "session"])
def test_a_token_altered_anywhere_fails_its_mac(part: str) -> None:
    codec = RefreshTokenCodec(RefreshTokenKeys.generate())
    token = codec.issue(new_session_id("alice"), 5)
    altered = {
        "generation": dataclasses.replace(token, generation=4),
        "secret": dataclasses.replace(token, secret=new_refresh_secret()),
        "mac": dataclasses.replace(token, mac=bytes(16)),
        "session": dataclasses.replace(token, session_id=new_session_id("alice")),
    }[part]
    assert parse_refresh_token(str(altered)) == altered  # the shape is fine
    assert codec.verify(str(altered)) is None


def test_another_services_key_does_not_verify() -> None:
    ours, theirs = (RefreshTokenCodec(RefreshTokenKeys.generate()) for _ in range(2))
    assert ours.verify(str(theirs.issue(new_session_id("alice"), 1))) is None


def test_generation_less_tokens_pass_by_shape() -> None:
    codec = RefreshTokenCodec(RefreshTokenKeys.generate())
    legacy = RefreshToken(new_session_id("alice"), new_refresh_secret())
    assert codec.verify(str(legacy)) == legacy


def test_the_first_key_macs_and_every_key_verifies(tmp_path: Path) -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(48)
    sid = new_session_id("alice")
    before = RefreshTokenCodec(RefreshTokenKeys([old])).issue(sid, 1)
    path = tmp_path / "keys"
    # base64url without padding, standard base64 with it, a comment and a blank line.
    unpadded_url_safe = base64.urlsafe_b64encode(new).rstrip(b"=").decode()
    path.write_text(f"{unpadded_url_safe}\n\n# retiring\n{base64.b64encode(old).decode()}\n")
    rotated = RefreshTokenCodec(RefreshTokenKeys.from_file(path))
    assert rotated.verify(str(before)) == before
    after = rotated.issue(sid, 2)
    assert RefreshTokenCodec(RefreshTokenKeys([new])).verify(str(after)) == after
    assert RefreshTokenCodec(RefreshTokenKeys([old])).verify(str(after)) is None


@pytest.mark.parametrize(
    ("contents", "problem"),
    [
        ("", "holds no key"),
        ("# only a comment\n", "holds no key"),
        (base64.b64encode(bytes(31)).decode(), "at least 32 bytes"),
        ("not base64 at all!\n", "line 1: not base64"),
    ],
)
def test_a_bad_key_file_names_the_setting_and_never_the_key(
    tmp_path: Path, contents: str, problem: str
) -> None:
    path = tmp_path / "keys"
    path.write_text(contents)
    with pytest.raises(ConfigError) as info:
        RefreshTokenKeys.from_file(path)
    assert info.value.setting == KEYS_FILE_SETTING and problem in str(info.value)
    if contents.strip():
        assert contents.strip() not in str(info.value)


def test_a_missing_key_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=KEYS_FILE_SETTING):
        RefreshTokenKeys.from_file(tmp_path / "absent")
