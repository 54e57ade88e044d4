# One image recipe for every service, built from the repository root:
#   docker build --build-arg SERVICE=intake --build-arg PORT=8001 -t dukcapil-intake .
# It holds the service's package and its dependencies only, and runs it as an unprivileged user. The service
# listens on <SERVICE>_HOST, which compose sets to 0.0.0.0.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=intake|review|documents|shipping (or devtools)"; exit 1; }
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY shared shared
COPY services services
# For the development stand-ins' image (SERVICE=devtools, compose's dev profile only).
COPY tools tools
RUN uv sync --frozen --no-dev --no-editable --package "dukcapil-${SERVICE}"

FROM ${PYTHON_IMAGE}
ARG SERVICE
ARG PORT
RUN useradd --create-home --uid 10001 dukcapil
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 DUKCAPIL_SERVICE=${SERVICE}
WORKDIR /home/dukcapil
USER dukcapil
EXPOSE ${PORT}
CMD ["sh", "-c", "exec python -m \"dukcapil_${DUKCAPIL_SERVICE}\""]
