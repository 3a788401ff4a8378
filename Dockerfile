# One image for the whole mesh: the Kubernetes manifests pick the service with `command`
# (`python -m engine`, `python -m gateway`, `python -m pooler` or `python -m candles`); without one it runs
# the gateway.
#
#   docker build -t exness-v3:dev .
#
# Stage 1 installs the runtime dependencies into a virtualenv; stage 2 copies that virtualenv and the
# source into a clean slim image that runs as an unprivileged user with nothing writable but /tmp.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Dependencies first, from the runtime lock alone (exact versions, every file checked against its hash; the
# same versions the tests ran, see scripts/lock.sh), so this layer is rebuilt only when the lock changes.
# Every dependency ships manylinux wheels for CPython 3.11: no compiler is needed.
COPY requirements/runtime.lock ./
RUN pip install --require-hashes --only-binary=:all: -r runtime.lock
COPY mesh/ /app/mesh/
COPY engine/ /app/engine/
COPY gateway/ /app/gateway/
COPY pooler/ /app/pooler/
COPY candles/ /app/candles/
COPY gen/ /app/gen/
# The root filesystem is read-only at run time, so bytecode is compiled here, once.
RUN python -m compileall -q /app /opt/venv

FROM python:3.11-slim AS runtime
LABEL org.opencontainers.image.title="exness-v3" \
      org.opencontainers.image.description="Exness V3 trading mesh: engine, gateway, pooler and candles in one image"
# A fixed numeric uid/gid: the pod securityContext (runAsUser 10001) and runAsNonRoot check it.
RUN groupadd --system --gid 10001 exness \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin exness
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# The services run from the source tree (PYTHONPATH), exactly as `make up` and the tests run them:
# `gen/` holds the generated protobuf package `exness`, the migrations travel inside their packages.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/gen \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /app
USER 10001:10001
# engine gRPC, gateway HTTP, engine metrics, pooler HTTP (health + metrics), candles gRPC and metrics
EXPOSE 50051 3000 9101 9102 50061 9104
# Kubernetes probes each service natively (gRPC health for the engine, HTTP for the others); one image
# serves four different processes, so a single Docker HEALTHCHECK could not be right for all of them.
HEALTHCHECK NONE
CMD ["python", "-m", "gateway"]
