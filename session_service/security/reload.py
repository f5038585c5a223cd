"""Values parsed from files and parsed again when the files change.

Kubernetes mounts a Secret or a ConfigMap as a folder of symlinks that go through a
``..data`` symlink; an update writes a new hidden folder and swaps ``..data`` in one
rename, so the file names stay while what they resolve to changes (cert-manager rotates
certificates this way). :class:`Reloader` notices a change in two ways:

- a task watching the files' parent folders with ``watchfiles`` (inotify on Linux), so a
  rotation is picked up within about a tenth of a second;
- a stat check of every file (resolved path, device, inode, size, ``mtime_ns``) each
  ``poll_interval`` seconds and on every :meth:`Reloader.check` call, so a missed event
  (inotify watch limit, network file systems) is still caught.

Either way the files are read again and, when their bytes differ from the last read,
parsed again. A valid new value replaces the old one; an invalid one is logged at ERROR
(naming the setting and the file, never the content) and the previous value is kept, so
a bad rotation never takes the service down. At construction the files must exist and
parse, else :class:`~session_service.errors.ConfigError` is raised.

Usage::

    def parse(contents: Mapping[str, bytes]) -> Policy:  # ValueError when invalid
        return parse_policy(contents["SESSION_AUTHZ_POLICY_FILE"])

    policy = Reloader({"SESSION_AUTHZ_POLICY_FILE": path}, parse)  # ConfigError if invalid now
    async with policy:  # starts the watch task; leaving stops it and waits for it
        policy.value  # the latest valid value

``parse`` receives the bytes of every file, keyed like ``files``, and raises
ValueError when the content is invalid: :class:`InvalidFile` to name the file at fault,
else the first file is blamed. Its message is logged, so it must describe the problem
without quoting the content. Several files are parsed together (a certificate and its
key), so they are only ever swapped as a pair. Writers that replace several files one by one
(rather than atomically, as Kubernetes does) may cause one logged error in between.

:meth:`Reloader.check` and :attr:`Reloader.value` are thread-safe: gRPC calls the TLS
certificate fetcher from its own threads.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import watchfiles
from session_wire.tasks import stop_tasks

from session_service.errors import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_POLL_INTERVAL = 10.0
"""Seconds between two stat checks when no file event arrives."""

# watchfiles yields a batch once no new event came for _STEP_MS, or after _DEBOUNCE_MS at
# the latest; the ..data swap is a handful of events within a millisecond.
_STEP_MS = 50
_DEBOUNCE_MS = 500

# What identifies a file's current content without reading it: the resolved path and
# (device, inode, size, mtime_ns), or the errno when it cannot be stat'ed.
_FileState = tuple[str, int, int, int, int] | tuple[str, int]


class InvalidFile(ValueError):
    """Raised by a ``parse`` function: the content of one file is unusable."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(problem)
        self.setting = setting
        """The setting whose file is at fault."""
        self.problem = problem
        """What is wrong, without quoting the content."""


class AsyncStartStop:
    """``async with`` for anything with ``start`` and ``close``: started on entry, closed on exit."""

    async def start(self) -> None:
        """Starts the background work."""
        raise NotImplementedError

    async def close(self) -> None:
        """Stops it and waits for it."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        """Starts."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stops."""
        await self.close()


class Watching(AsyncStartStop):
    """For a holder of files a :class:`Reloader` keeps up to date: its start and close
    start and stop that reloader (``_watched``)."""

    _watched: Reloader[Any]

    async def start(self) -> None:
        """Starts watching the files."""
        await self._watched.start()

    async def close(self) -> None:
        """Stops watching the files."""
        await self._watched.close()


class Reloader(AsyncStartStop, Generic[T]):
    """A value parsed from one or more files, kept up to date while the files change."""

    def __init__(
        self,
        files: Mapping[str, Path],
        parse: Callable[[Mapping[str, bytes]], T],
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        """Reads and parses ``files`` (setting name → path) now.

        Raises ConfigError naming the setting and the file when a file cannot be read
        or ``parse`` rejects its content. ``poll_interval`` is the longest time a change
        goes unnoticed if no file event arrives.
        """
        if not files:
            raise ValueError("Reloader needs at least one file")
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self._files = {setting: Path(path).absolute() for setting, path in files.items()}
        self._parse = parse
        self._poll_interval = poll_interval
        # Held while reading and parsing; check() never waits for it, so a gRPC thread
        # asking during a reload just keeps the current value.
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

        self._seen_state = self._stat()
        contents = self._read()
        self._seen_digest = _digest(contents)
        try:
            value = parse(contents)
        except ValueError as e:
            setting, problem = self._blame(e)
            raise ConfigError(setting, f"{self._files[setting]}: {problem}") from e
        # One tuple, so a reader never sees a generation with another generation's value.
        self._current: tuple[int, T] = (0, value)

    @property
    def value(self) -> T:
        """The most recent valid value."""
        return self._current[1]

    @property
    def current(self) -> tuple[int, T]:
        """The generation (0 at start, +1 at each successful reload) and the value, read together."""
        return self._current

    @property
    def files(self) -> Mapping[str, Path]:
        """The watched files, by setting name."""
        return dict(self._files)

    def check(self, *, force: bool = False) -> bool:
        """Reloads if a file changed since the last look; True when the value was replaced.

        Without ``force`` the files are only read when their stat state changed; with it
        (after a file event) they are read and compared with the last read bytes.
        Never raises: a file that cannot be read or parsed is logged and the current
        value stays.
        """
        if not self._lock.acquire(blocking=False):
            return False
        try:
            return self._reload(force)
        finally:
            self._lock.release()

    def _reload(self, force: bool) -> bool:
        state = self._stat()
        if state == self._seen_state and not force:
            return False
        # Remembered before reading, so a failure is logged once per change, not per check.
        self._seen_state = state
        try:
            contents = self._read()
        except ConfigError as e:
            log.error("%s; keeping the previous value", e, extra={"setting": e.setting})
            return False
        digest = _digest(contents)
        if digest == self._seen_digest:
            return False
        self._seen_digest = digest
        try:
            value = self._parse(contents)
        except ValueError as e:
            setting, problem = self._blame(e)
            path = self._files[setting]
            log.error(
                "%s: %s: %s; keeping the previous value",
                setting,
                path,
                problem,
                extra={"setting": setting, "file": str(path)},
            )
            return False
        except Exception as e:
            # An unexpected exception's message may quote the content, so only its type
            # is logged.
            log.error(
                "%s: %s while parsing %s; keeping the previous value",
                ", ".join(self._files),
                type(e).__name__,
                ", ".join(str(p) for p in self._files.values()),
            )
            return False
        generation = self._current[0] + 1
        self._current = (generation, value)
        log.info(
            "%s: reloaded %s",
            ", ".join(self._files),
            ", ".join(str(p) for p in self._files.values()),
            extra={"generation": generation},
        )
        return True

    def _read(self) -> dict[str, bytes]:
        contents: dict[str, bytes] = {}
        for setting, path in self._files.items():
            try:
                contents[setting] = path.read_bytes()
            except OSError as e:
                raise ConfigError(setting, f"cannot read {path}: {e.strerror}") from e
        return contents

    def _blame(self, e: ValueError) -> tuple[str, str]:
        if isinstance(e, InvalidFile) and e.setting in self._files:
            return e.setting, e.problem
        return next(iter(self._files)), str(e)

    def _stat(self) -> tuple[_FileState, ...]:
        states: list[_FileState] = []
        for path in self._files.values():
            try:
                # realpath follows the ..data symlink, so a swap changes the state even
                # if the new file happens to share size and mtime with the old one.
                resolved = os.path.realpath(path)
                st = os.stat(resolved)
                states.append((resolved, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
            except OSError as e:
                states.append((str(path), e.errno or -1))
        return tuple(states)

    async def start(self) -> None:
        """Starts watching in a task of the running event loop; does nothing if already started."""
        if self._task is not None:
            return
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._watch(), name=f"reload {', '.join(self._files)}")

    async def close(self) -> None:
        """Stops watching and waits for the task to end; safe to call more than once."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        # The watch thread sees the stop event within one step (50 ms); cancelling is a
        # fallback in case it does not.
        done, _ = await asyncio.wait({task}, timeout=5)
        if not done:
            await stop_tasks([task], within=2.0, what="file watch")

    async def _watch(self) -> None:
        # A change between construction (or the last check) and now would produce no
        # event. awatch sets its watches in this same step, before anything else on the
        # loop runs, so the window left is too small to matter, and the poll covers it.
        self.check()
        folders = sorted({str(path.parent) for path in self._files.values()})
        try:
            async for changes in watchfiles.awatch(
                *folders,
                watch_filter=None,
                debounce=_DEBOUNCE_MS,
                step=_STEP_MS,
                stop_event=self._stop,
                rust_timeout=max(1, int(self._poll_interval * 1000)),
                yield_on_timeout=True,
                recursive=False,
            ):
                # An empty batch is the poll timeout: the stat check decides.
                self.check(force=bool(changes))
        except Exception as e:
            # No inotify (or out of watches): the stat check alone still sees every change.
            log.warning(
                "cannot watch %s (%s: %s); checking every %s s instead",
                ", ".join(folders),
                type(e).__name__,
                e,
                self._poll_interval,
            )
            await self._poll()

    async def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), self._poll_interval)
            except TimeoutError:
                self.check()


def _digest(contents: Mapping[str, bytes]) -> bytes:
    h = hashlib.sha256()
    for setting in sorted(contents):
        data = contents[setting]
        h.update(f"{setting}\0{len(data)}\0".encode())
        h.update(data)
    return h.digest()
