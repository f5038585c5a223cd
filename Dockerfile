# syntax=docker/dockerfile:1
# session-service image.
#
#   docker build -t session-service .                  # production image (needs an external Redis)
#   docker build --target demo -t session-service:demo .  # adds redis-server for SESSION_REDIS_URL=""
#
# The process runs as UID 10001 and writes nothing outside /tmp, so it runs under
# `readOnlyRootFilesystem: true` with an emptyDir on /tmp.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------
# builder: every wheel the image needs, third-party first.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src

# Only the lock file decides the third-party wheels, so a code change reuses this
# layer. It pins every version with its hashes (requirements/runtime.lock, made by
# scripts/lock.sh): the server's dependencies and the speed extra, nothing of the client
# or the test tools, and none of our own distributions.
COPY requirements/runtime.lock requirements/
RUN pip wheel --no-cache-dir --require-hashes --wheel-dir /wheels/deps -r requirements/runtime.lock

# The two distributions the server needs (the wire contract and the server itself), from
# this checkout; never resolved from an index.
COPY wire/ wire/
COPY pyproject.toml setup.py README.md ./
# The build backend that the server's pyproject.toml names.
COPY clients/build_backend.py clients/
COPY session_service/ session_service/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels/app ./wire .

# ---------------------------------------------------------------------------
# base: the runtime, shared by the production and demo images.
FROM ${PYTHON_IMAGE} AS base
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 session \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin session \
 && python -m venv "$VIRTUAL_ENV"

# Installed from the builder's wheels through a bind mount, so no wheel stays in a
# layer; --no-index makes the wheels the only source. Bytecode is compiled here, at
# build time, because the running container may not write it.
RUN --mount=type=bind,from=builder,source=/wheels/deps,target=/wheels/deps \
    --mount=type=bind,from=builder,source=/src/requirements,target=/requirements \
    pip install --no-cache-dir --no-index --find-links /wheels/deps --require-hashes \
      -r /requirements/runtime.lock
RUN --mount=type=bind,from=builder,source=/wheels/app,target=/wheels/app \
    pip install --no-cache-dir --no-index --no-deps /wheels/app/*.whl

# HOME and TMPDIR point at /tmp: the only writable place under a read-only root.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    SESSION_HOST=0.0.0.0 \
    SESSION_PORT=50051 \
    SESSION_METRICS_PORT=9464

WORKDIR /tmp
USER 10001:10001
# 50051: gRPC (with grpc.health.v1 and server reflection); 9464: Prometheus /metrics.
EXPOSE 50051 9464
# Checks grpc.health.v1 on 127.0.0.1:$SESSION_PORT; exits 0 only when SERVING.
HEALTHCHECK --interval=15s --timeout=5s --start-period=15s --retries=3 \
  CMD ["session-service", "healthcheck"]
ENTRYPOINT ["session-service"]
CMD ["serve"]

# ---------------------------------------------------------------------------
# demo: with redis-server, for SESSION_REDIS_URL="" (the service starts its own
# private Redis). Sessions die with the container; never use it in production.
FROM base AS demo
USER 0
# Not pinned: Debian's stable updates carry security fixes only, and a pinned version
# disappears from the archive once it is superseded.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/*
USER 10001:10001

# ---------------------------------------------------------------------------
# runtime (the default target, being last): the production image.
FROM base AS runtime
