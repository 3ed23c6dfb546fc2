# syntax=docker/dockerfile:1
# bandctl controller image.
#   docker build -t bandctl .
#   docker run --env-file prod.env -v "$PWD/manifests:/manifests:ro" -p 9108:9108 bandctl
# Without Docker: deploy/build-image.sh builds it with buildah and runs the image's checks.
# Secrets (PRIV_KEY, FUNDER_ADDRESS, SIGNATURE_TYPE, SENTRY_DSN…) come from the
# environment at run time only: nothing secret is copied into the image (see .dockerignore).

# Pin by digest for reproducible builds: --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:…
ARG PYTHON_IMAGE=python:3.11-slim

# -- builder: wheel of the project, installed with pinned dependencies into a venv -------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

# The build machine's package index set-up, when it has one (a mirror, a TLS-inspecting
# proxy's CA bundle): pip reads these from the environment of the RUN steps below.
# Builder stage only: none of them reaches the runtime image. Unset = public PyPI.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ARG PIP_CERT

WORKDIR /src
# Build tools pinned and installed into the venv, so the wheel build needs no isolated
# (unpinned) build environment.
RUN python -m venv /opt/bandctl \
    && /opt/bandctl/bin/pip install --no-cache-dir "setuptools==84.2.1" "wheel==0.48.0"

# Dependencies first: this layer is rebuilt only when the pins change.
COPY constraints.txt ./
COPY pyproject.toml README.md ./
COPY controller ./controller
COPY schemas ./schemas
COPY manifests ./manifests
RUN /opt/bandctl/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/bandctl/bin/pip install --no-cache-dir --constraint constraints.txt /wheels/bandctl-*.whl \
    && /opt/bandctl/bin/pip uninstall --yes setuptools wheel \
    && /opt/bandctl/bin/bandctl --help > /dev/null

# -- runtime: slim python, the venv, a non-root user --------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=dev
LABEL org.opencontainers.image.title="bandctl" \
      org.opencontainers.image.description="Declarative market-making controller for Polymarket's CLOB" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"

ENV PATH=/opt/bandctl/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PROMETHEUS_DISABLE_CREATED_SERIES=True

# A fixed UID/GID so Kubernetes runAsUser / fsGroup and volume permissions can match it.
RUN groupadd --system --gid 10001 bandctl \
    && useradd --system --no-log-init --uid 10001 --gid 10001 --home-dir /nonexistent \
       --shell /usr/sbin/nologin bandctl

COPY --from=builder /opt/bandctl /opt/bandctl

# An empty, root-owned working directory: no .env is ever found here. /state is the
# controller's state directory (placed order ids, halts, the fill journal): mount a
# persistent volume there.
RUN mkdir -p /state && chown 10001:10001 /state
WORKDIR /app
USER 10001:10001

EXPOSE 9108
# python, not curl: the slim image has no curl. urlopen raises on any non-2xx answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4)"]

ENTRYPOINT ["bandctl"]
CMD ["run", "-f", "/manifests", "--http", "0.0.0.0:9108", "--state-dir", "/state"]
