"""Each distribution installed from a clone, alone, into a clean virtualenv, as a new user
would: ``pip install .`` for the server, ``pip install ./clients`` for another service.

Proves that pip resolves nothing under one of our names from a package index (the wire
contract comes from the checkout, by path), that the server starts and reports SERVING,
and that the client, without any server code, calls it and verifies tokens locally.
The third-party packages do come from the index (pip's cache makes that quick). And the
developer install, all three editable with one ``pip install -e ./wire -e ./clients -e .``,
resolves.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
OURS = {"sessionsvc-wire", "sessionsvc-server", "sessionsvc-client"}
# Names on the public index that are not ours: they must never be installed.
FOREIGN = {"session-client", "session-service", "session-wire"}
COPIED = ("wire", "clients", "session_service", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")

SECOND_SERVICE = textwrap.dedent(
    """
    import asyncio, sys, time

    class NoServer:  # the client must never reach for the server's code
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "session_service":
                raise ImportError("session_client imported session_service")

    sys.meta_path.insert(0, NoServer())
    import session_client
    from session_client import SessionClient, SessionRevoked, Verifier

    async def main(target):
        async with SessionClient(target) as client, Verifier(client) as verifier:
            created = await client.create("second-service")
            print("verified", verifier.verify(created.access_token).subject)
            sid = created.session.session_id
            started = time.perf_counter()
            await client.revoke_session(sid)
            while not verifier.is_revoked(sid):
                await asyncio.sleep(0.001)
            try:
                verifier.verify(created.access_token)
            except SessionRevoked:
                print(f"rejected after revocation in {(time.perf_counter() - started) * 1000:.0f} ms")
        print("from", session_client.__file__)

    asyncio.run(main(sys.argv[1]))
    """
)


async def _run(*args: str | Path, timeout: float, env: dict[str, str] | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    text = output.decode()
    assert process.returncode == 0, f"{' '.join(map(str, args))} failed:\n{text}"
    return text


async def _venv_with(tmp: Path, name: str, distribution: Path) -> Path:
    """A clean virtualenv with ``distribution`` pip-installed into it the ordinary way."""
    venv = tmp / name
    await _run(sys.executable, "-m", "venv", venv, timeout=120)
    await _run(venv / "bin" / "python", "-m", "pip", "install", "-q", distribution, timeout=420)
    return venv


def _copy_clone(clone: Path) -> Path:
    """What a clone holds of the three distributions, copied to ``clone``."""
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "node", "node_modules")
            shutil.copytree(source, clone / name, ignore=ignore)
        else:
            clone.mkdir(exist_ok=True)
            shutil.copy2(source, clone / name)
    return clone


def _installed(venv: Path) -> dict[str, dict[str, object]]:
    """Installed distributions of a venv: name → {version, direct_url (or None)}."""
    (site,) = (venv / "lib").glob("python3*/site-packages")
    found: dict[str, dict[str, object]] = {}
    for dist in metadata.distributions(path=[str(site)]):
        direct = dist.read_text("direct_url.json")
        found[dist.metadata["Name"].lower().replace("_", "-")] = {
            "version": dist.version,
            "direct_url": json.loads(direct) if direct else None,
        }
    return found


def _assert_ours_from_checkout(
    installed: dict[str, dict[str, object]], clone: Path, expect: set[str]
) -> None:
    assert not FOREIGN & installed.keys(), f"a foreign package was installed: {FOREIGN & installed.keys()}"
    ours = OURS & installed.keys()
    assert ours == expect
    for name in ours:
        direct = installed[name]["direct_url"]
        # Installed from a path in the clone, not downloaded from an index.
        assert isinstance(direct, dict), f"{name} was not installed from the checkout"
        assert str(direct["url"]).startswith(clone.as_uri()), (name, direct)
        assert installed[name]["version"] == _version(clone), name


def _version(clone: Path) -> str:
    version: str = tomllib.loads((clone / "wire" / "pyproject.toml").read_text())["project"]["version"]
    return version


def test_our_three_distributions_share_one_version() -> None:
    versions = {
        tomllib.loads((REPO / path).read_text())["project"]["version"]
        for path in ("pyproject.toml", "clients/pyproject.toml", "wire/pyproject.toml")
    }
    import session_wire

    assert versions == {session_wire.__version__}


async def test_each_distribution_installs_alone_from_a_clone_and_works(tmp_path: Path) -> None:
    clone = _copy_clone(tmp_path / "clone")
    # Both installs at once: most of the time is spent fetching third-party wheels.
    server_venv, client_venv = await asyncio.gather(
        _venv_with(tmp_path, "server-venv", clone),
        _venv_with(tmp_path, "client-venv", clone / "clients"),
    )
    _assert_ours_from_checkout(_installed(server_venv), clone, {"sessionsvc-wire", "sessionsvc-server"})
    _assert_ours_from_checkout(_installed(client_venv), clone, {"sessionsvc-wire", "sessionsvc-client"})
    # The server does not load the client SDK, and vice versa.
    assert "pyjwt" in _installed(server_venv)  # the server signs with it; the point is the SDK
    assert not (next((server_venv / "lib").glob("python3*/site-packages")) / "session_client").exists()

    port = free_port()
    server = await asyncio.create_subprocess_exec(
        server_venv / "bin" / "session-service",
        "serve",
        env={
            **os.environ,
            "SESSION_HOST": "127.0.0.1",
            "SESSION_PORT": str(port),
            "SESSION_METRICS_PORT": "0",
            "SESSION_REDIS_URL": "",
            "PYTHONPATH": "",
        },
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        target = f"127.0.0.1:{port}"
        await _wait_serving(target, server)
        script = tmp_path / "second_service.py"
        script.write_text(SECOND_SERVICE)
        out = await _run(client_venv / "bin" / "python", script, target, timeout=60, env={"PYTHONPATH": ""})
        lines = out.splitlines()
        assert lines[0] == "verified second-service", out
        assert lines[1].startswith("rejected after revocation in "), out
        assert lines[2].startswith(f"from {client_venv}"), out
    finally:
        server.terminate()
        try:
            await asyncio.wait_for(server.wait(), 30)
        except TimeoutError:
            server.kill()
            await server.wait()


async def test_the_developer_install_takes_all_three_editable(tmp_path: Path) -> None:
    clone = _copy_clone(tmp_path / "clone")
    venv = tmp_path / "dev-venv"
    await _run(sys.executable, "-m", "venv", venv, timeout=120)
    # The documented developer install: no conflict between -e ./wire and the others'
    # requirement on the wire contract.
    await _run(
        venv / "bin" / "python",
        "-m",
        "pip",
        "install",
        "-q",
        "-e",
        clone / "wire",
        "-e",
        clone / "clients",
        "-e",
        clone,
        timeout=420,
    )
    installed = _installed(venv)
    _assert_ours_from_checkout(installed, clone, OURS)
    for name in OURS:
        direct = installed[name]["direct_url"]
        assert isinstance(direct, dict) and direct.get("dir_info") == {"editable": True}, (name, direct)


async def _wait_serving(target: str, server: asyncio.subprocess.Process) -> None:
    """Waits until the session service itself (not just the process) reports SERVING."""
    request = health_pb2.HealthCheckRequest(service="session.v1.SessionService")
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for _ in range(300):
            if server.returncode is not None:
                assert server.stderr is not None
                pytest.fail(f"server exited: {(await server.stderr.read()).decode()}")
            try:
                reply = await stub.Check(request, timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail("server never reported SERVING")
