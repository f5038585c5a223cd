"""The Dockerfile: hadolint-clean, and the image properties the chart relies on.

No Docker engine runs here, so the image is never built by these tests. The recipe
below mirrors the Dockerfile's install steps in a clean virtualenv; a test that the
installed `session-service` entrypoint starts belongs with the service's own tests:

    python3.11 -m venv /tmp/build && python3.11 -m venv /tmp/image
    # builder: third-party wheels from the hash-checked runtime lock file alone
    /tmp/build/bin/pip wheel --require-hashes --wheel-dir /tmp/wheels/deps -r requirements/runtime.lock
    # builder: the wire contract and the server, without dependencies
    /tmp/build/bin/pip wheel --no-deps --wheel-dir /tmp/wheels/app ./wire .
    # runtime: offline installs from those wheels only, dependencies first
    /tmp/image/bin/pip install --no-index --find-links /tmp/wheels/deps --require-hashes \\
      -r requirements/runtime.lock
    /tmp/image/bin/pip install --no-index --no-deps /tmp/wheels/app/*.whl
    # then, with PYTHONDONTWRITEBYTECODE=1 HOME=/tmp and the working folder /tmp:
    /tmp/image/bin/session-service serve          # ENTRYPOINT + CMD
    /tmp/image/bin/session-service healthcheck    # HEALTHCHECK
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
IMAGE_UID = "10001"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined; heredoc bodies kept apart."""

    stage: str
    keyword: str
    arguments: str
    heredoc: str = ""


def parse_dockerfile(text: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    stage = ""
    lines = iter(text.splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.endswith("\\"):
            line = line[:-1] + " " + next(lines).strip()
        keyword, _, arguments = line.strip().partition(" ")
        heredoc = ""
        marker = re.search(r"<<-?'?(\w+)'?", arguments)
        if marker:
            body = []
            for body_line in lines:
                if body_line.strip() == marker[1]:
                    break
                body.append(body_line)
            heredoc = "\n".join(body) + "\n"
        if keyword.upper() == "FROM":
            match = re.search(r"\bAS\s+(\S+)", arguments, re.IGNORECASE)
            stage = match[1] if match else arguments
        instructions.append(Instruction(stage, keyword.upper(), arguments.strip(), heredoc))
    return instructions


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    """The instructions the default image gets: its stage and the stages it is built FROM."""
    by_stage: dict[str, list[Instruction]] = {}
    for instruction in instructions:
        by_stage.setdefault(instruction.stage, []).append(instruction)
    chain: list[Instruction] = []
    stage = instructions[-1].stage
    while stage in by_stage:
        own = by_stage[stage]
        chain = own[1:] + chain
        stage = own[0].arguments.split()[0]
    return chain


def last(instructions: list[Instruction], keyword: str) -> Instruction:
    matching = [i for i in instructions if i.keyword == keyword]
    assert matching, f"no {keyword} in the final image"
    return matching[-1]


INSTRUCTIONS = parse_dockerfile(DOCKERFILE.read_text())
IMAGE = final_stage(INSTRUCTIONS)


def test_dockerfile_passes_hadolint(hadolint: Path) -> None:
    config = REPO / ".hadolint.yaml"
    args = ["--config", str(config)] if config.exists() else []
    result = subprocess.run(
        [str(hadolint), *args, str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, f"hadolint found problems:\n{result.stdout}{result.stderr}"


def test_image_is_built_from_slim_python_3_11() -> None:
    (default,) = [i for i in INSTRUCTIONS if i.keyword == "ARG" and i.arguments.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim(-\w+)?(@sha256:[0-9a-f]{64})?", default.arguments)
    stages: set[str] = set()
    for instruction in (i for i in INSTRUCTIONS if i.keyword == "FROM"):
        base = instruction.arguments.split()[0]
        assert base == "${PYTHON_IMAGE}" or base in stages, instruction.arguments
        stages.add(instruction.stage)


def test_image_runs_as_the_numeric_non_root_user_the_chart_expects() -> None:
    user = last(IMAGE, "USER").arguments
    assert user.split(":")[0] == IMAGE_UID, user
    assert "--uid 10001" in " ".join(i.arguments for i in IMAGE if i.keyword == "RUN")


def test_entrypoint_and_cmd_are_exec_form() -> None:
    assert json.loads(last(IMAGE, "ENTRYPOINT").arguments) == ["session-service"]
    assert json.loads(last(IMAGE, "CMD").arguments) == ["serve"]


def test_image_exposes_grpc_and_metrics_ports() -> None:
    exposed = {p for i in IMAGE if i.keyword == "EXPOSE" for p in i.arguments.split()}
    assert exposed == {"50051", "9464"}


def test_healthcheck_runs_the_service_healthcheck_subcommand() -> None:
    healthcheck = last(IMAGE, "HEALTHCHECK").arguments
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert command == ["session-service", "healthcheck"]


def test_image_environment_suits_a_read_only_root() -> None:
    env = " ".join(i.arguments for i in IMAGE if i.keyword == "ENV")
    for setting in (
        "PYTHONDONTWRITEBYTECODE=1",
        "HOME=/tmp",
        "TMPDIR=/tmp",
        "SESSION_PORT=50051",
        "SESSION_METRICS_PORT=9464",
    ):
        assert setting in env, setting
    assert last(IMAGE, "WORKDIR").arguments == "/tmp"


def test_dependency_layer_depends_on_the_lock_file_only() -> None:
    builder = [i for i in INSTRUCTIONS if i.stage == "builder"]
    first_dependency_build = next(n for n, i in enumerate(builder) if "pip wheel" in i.arguments)
    copied = [i.arguments.split()[0] for i in builder[:first_dependency_build] if i.keyword == "COPY"]
    assert copied == ["requirements/runtime.lock"]
    assert "--require-hashes" in builder[first_dependency_build].arguments


def test_image_installs_hash_checked_wheels_and_our_distributions_without_an_index() -> None:
    installs = [i.arguments for i in IMAGE if i.keyword == "RUN" and "pip install" in i.arguments]
    assert installs and all("--no-index" in a for a in installs)
    assert any("--require-hashes" in a and "runtime.lock" in a for a in installs)
    (ours,) = [i.arguments for i in INSTRUCTIONS if i.stage == "builder" and "--no-deps" in i.arguments]
    # The client SDK is not part of the server image.
    assert ours.split()[-2:] == ["./wire", "."]


def test_runtime_lock_pins_every_package_with_hashes_and_none_of_ours() -> None:
    text = (REPO / "requirements" / "runtime.lock").read_text()
    pinned = re.findall(r"^([A-Za-z0-9._-]+)==\S+ \\$", text, flags=re.MULTILINE)
    assert "grpcio" in pinned and "redis" in pinned and "uvloop" in pinned
    assert not {p.lower() for p in pinned} & {"sessionsvc-wire", "sessionsvc-server", "sessionsvc-client"}
    assert not {"pytest", "mypy", "session-client"} & set(pinned)
    assert text.count("--hash=sha256:") >= len(pinned)


def test_dockerignore_admits_only_what_the_build_copies() -> None:
    lines = [
        line
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = {
        i.arguments.split()[0].rstrip("/")
        for i in INSTRUCTIONS
        if i.keyword == "COPY" and not i.arguments.startswith("--from")
    }
    assert all(c in admitted or c.split("/")[0] in admitted for c in copied), (copied, admitted)
    assert ".tools" not in admitted and "tests" not in admitted
