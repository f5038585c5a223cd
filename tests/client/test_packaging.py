"""The session-client distribution as another service gets it: ``pip install ./clients``,
without the server package, verifying tokens locally and seeing a revocation."""

from __future__ import annotations

import asyncio
import shutil
import sys
import sysconfig
import textwrap
from pathlib import Path

from tests.client.conftest import target
from tests.conftest import Running

CLIENTS = Path(__file__).resolve().parents[2] / "clients"

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


async def test_pip_installed_client_verifies_locally_and_sees_revocations(
    svc: Running, tmp_path: Path
) -> None:
    # From a copy, so that building leaves nothing behind in the checkout.
    source = tmp_path / "clients"
    shutil.copytree(CLIENTS, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = tmp_path / "site"
    pip = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"),
        *("--target", str(site), str(source)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(pip.communicate(), 120)
    assert pip.returncode == 0, output.decode()
    installed = site / "session_client"
    for typed in ("py.typed", "_gen/session/v1/session_pb2.pyi", "_gen/session/v1/session_pb2_grpc.pyi"):
        assert (installed / typed).is_file(), typed
    script = tmp_path / "second_service.py"
    script.write_text(SECOND_SERVICE)
    # -S: no site-packages processing, so none of this checkout's editable installs apply;
    # only the installed client and the third-party packages it depends on are importable.
    dependencies = sysconfig.get_paths()["purelib"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-S",
        str(script),
        target(svc),
        env={"PYTHONPATH": f"{site}:{dependencies}"},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[0] == "verified second-service"
    assert lines[1].startswith("rejected after revocation in ")
    assert lines[2] == f"from {installed / '__init__.py'}"
