"""Running another language's test suite against services the pytest test started."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path


async def run_checked(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> str:
    """Runs ``argv`` in ``cwd`` with ``env`` added to ours; fails the test, with its
    output, when it fails or outlasts ``timeout`` seconds; returns its output."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"{' '.join(argv)} did not finish within {timeout}s") from None
    text = out.decode(errors="replace")
    assert process.returncode == 0, f"{' '.join(argv)} exited {process.returncode}:\n{text}"
    return text
