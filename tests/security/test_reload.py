"""Reloader: first load, change detection by stat and by file events, bad updates, shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
import watchfiles

from session_service.errors import ConfigError
from session_service.security import reload
from session_service.security.reload import InvalidFile, Reloader
from tests.certs import SecretMount, write_atomically
from tests.security.support import eventually

SETTING = "SESSION_TEST_FILE"
SECRET_CONTENT = "not-a-number-s3cr3t"


def parse_number(contents: Mapping[str, bytes]) -> int:
    """The file holds one integer."""
    try:
        return int(contents[SETTING])
    except ValueError:
        raise InvalidFile(SETTING, "not an integer") from None


@pytest.fixture
def number_file(tmp_path: Path) -> Path:
    return write_atomically(tmp_path / "number", b"1")


@pytest.fixture
async def watched(number_file: Path) -> AsyncIterator[Reloader[int]]:
    # A long poll interval: only file events can explain a quick reload.
    async with Reloader({SETTING: number_file}, parse_number, poll_interval=60) as reloader:
        yield reloader


def test_missing_file_at_start_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        Reloader({SETTING: tmp_path / "absent"}, parse_number)
    assert raised.value.setting == SETTING
    assert "absent" in str(raised.value)


def test_invalid_content_at_start_is_a_config_error(tmp_path: Path) -> None:
    path = write_atomically(tmp_path / "number", SECRET_CONTENT.encode())
    with pytest.raises(ConfigError) as raised:
        Reloader({SETTING: path}, parse_number)
    assert raised.value.setting == SETTING
    assert str(path) in str(raised.value)
    assert "not an integer" in str(raised.value)
    assert SECRET_CONTENT not in str(raised.value)


def test_check_reloads_a_replaced_file(number_file: Path) -> None:
    reloader = Reloader({SETTING: number_file}, parse_number)
    assert reloader.current == (0, 1)
    assert reloader.check() is False
    write_atomically(number_file, b"2")
    assert reloader.check() is True
    assert reloader.current == (1, 2)


def test_check_reloads_a_file_rewritten_in_place(number_file: Path) -> None:
    reloader = Reloader({SETTING: number_file}, parse_number)
    number_file.write_bytes(b"22")
    assert reloader.check() is True
    assert reloader.value == 22


def test_touching_a_file_without_changing_it_keeps_the_value(number_file: Path) -> None:
    reloader = Reloader({SETTING: number_file}, parse_number)
    os.utime(number_file, ns=(1, 1))
    assert reloader.check() is False
    assert reloader.current == (0, 1)


def test_invalid_update_keeps_the_previous_value_and_logs_the_file_not_the_content(
    number_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reloader = Reloader({SETTING: number_file}, parse_number)
    write_atomically(number_file, SECRET_CONTENT.encode())
    with caplog.at_level(logging.ERROR, logger=reload.__name__):
        assert reloader.check() is False
        # The same bad content is reported once, not on every check.
        assert reloader.check(force=True) is False
    assert reloader.current == (0, 1)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert SETTING in errors[0].getMessage()
    assert str(number_file) in errors[0].getMessage()
    assert SECRET_CONTENT not in caplog.text
    write_atomically(number_file, b"3")
    assert reloader.check() is True
    assert reloader.value == 3


def test_removed_file_keeps_the_previous_value(number_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    reloader = Reloader({SETTING: number_file}, parse_number)
    number_file.unlink()
    with caplog.at_level(logging.ERROR, logger=reload.__name__):
        assert reloader.check() is False
    assert reloader.value == 1
    assert str(number_file) in caplog.text


async def test_file_event_triggers_a_reload(watched: Reloader[int], number_file: Path) -> None:
    await asyncio.sleep(0)  # let the watch task set its watches
    write_atomically(number_file, b"5")
    await eventually(lambda: watched.value == 5)


async def test_kubernetes_style_symlink_swap_is_picked_up(tmp_path: Path) -> None:
    mount = SecretMount(tmp_path / "secret", {"number": b"7"})
    files = {SETTING: mount.path("number")}
    async with Reloader(files, parse_number, poll_interval=60) as reloader:
        assert reloader.value == 7
        await asyncio.sleep(0)  # let the watch task set its watches
        mount.update({"number": b"8"})
        await eventually(lambda: reloader.value == 8)


async def test_change_before_start_is_seen_at_start(number_file: Path) -> None:
    reloader = Reloader({SETTING: number_file}, parse_number, poll_interval=60)
    write_atomically(number_file, b"6")
    async with reloader:
        await eventually(lambda: reloader.value == 6)


async def test_polling_alone_catches_changes_when_watching_fails(
    number_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_watcher(*args: object, **kwargs: object) -> None:
        raise OSError("inotify watch limit reached")

    monkeypatch.setattr(watchfiles, "awatch", no_watcher)
    async with Reloader({SETTING: number_file}, parse_number, poll_interval=0.05) as reloader:
        write_atomically(number_file, b"9")
        await eventually(lambda: reloader.value == 9)


async def test_close_ends_the_watch_task(number_file: Path) -> None:
    before = asyncio.all_tasks()
    reloader = Reloader({SETTING: number_file}, parse_number, poll_interval=60)
    await reloader.close()  # before start: nothing to do
    await reloader.start()
    started = asyncio.all_tasks() - before
    assert len(started) == 1
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await reloader.close()
    await reloader.close()
    assert loop.time() - t0 < 2
    assert all(task.done() for task in started)
    assert asyncio.all_tasks() - before == set()
