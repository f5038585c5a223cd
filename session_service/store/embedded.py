"""A private redis-server process: the development default and the test fixtures' Redis."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from session_service.errors import ConfigError


def die_with_parent() -> None:
    """Asks for SIGTERM when the parent process dies (Linux only; a no-op elsewhere), so a
    child never outlives the service that started it."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class RedisServerProcess:
    """Starts redis-server without persistence; on a Unix socket unless a TCP port is given."""

    def __init__(self, binary: str = "redis-server", port: int | None = None, *extra_args: str) -> None:
        self.binary = binary
        self.port = port
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    @property
    def url(self) -> str:
        """Where clients connect."""
        if self.port is not None:
            return f"redis://127.0.0.1:{self.port}/0"
        assert self._dir is not None
        return f"unix://{self._dir / 'redis.sock'}"

    def start(self, timeout: float = 10.0) -> None:
        """Starts the server and returns once it answers PING."""
        path = shutil.which(self.binary)
        if path is None:
            raise ConfigError(
                "SESSION_REDIS_SERVER_BINARY",
                f"{self.binary!r} not found; install redis-server or set SESSION_REDIS_URL",
            )
        self._dir = Path(tempfile.mkdtemp(prefix="session-redis-"))
        listen = (
            ["--port", str(self.port), "--bind", "127.0.0.1"]
            if self.port is not None
            else ["--port", "0", "--unixsocket", str(self._dir / "redis.sock"), "--unixsocketperm", "700"]
        )
        args = [
            path,
            *listen,
            "--dir",
            str(self._dir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            str(self._dir / "redis.log"),
            *self.extra_args,
        ]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)  # noqa: S603
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                log = (self._dir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {log}")
            with contextlib.suppress(redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                client = redis.Redis.from_url(self.url, socket_timeout=1)
                try:
                    if client.ping():
                        return
                finally:
                    client.close()
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not answer within the timeout")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stops the server this object started (by its PID) and removes its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
