# One image recipe for every service, built from the repository root:
#   docker build --build-arg SERVICE=intake --build-arg PORT=8001 -t dukcapil-intake .
# It holds the service's package and its dependencies only, and runs it as an unprivileged user. The service
# listens on <SERVICE>_HOST, which compose sets to 0.0.0.0.
# The base image by digest (Debian bookworm, Python 3.11.11): a rebuild gets the same bytes, and a newer base is a
# reviewed change of this line.
ARG PYTHON_IMAGE=python:3.11.11-slim@sha256:a8e0a3090316aed0b11037aac613aef32fb1747dcc1dcb5c0f6c727a0113a07f

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
# The folders compose mounts its volumes on (intake's scans, documents' PDFs, the courier simulator's parcels in
# the dev profile) exist in the image and belong to the service user: Docker fills a new named volume from the
# image's folder, owner included, so the service can write.
RUN groupadd --gid 10001 dukcapil \
    && useradd --create-home --uid 10001 --gid 10001 dukcapil \
    && mkdir -p /data/attachments /data/documents /data/courier \
    && chown -R 10001:10001 /data
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 DUKCAPIL_SERVICE=${SERVICE}
WORKDIR /home/dukcapil
USER 10001:10001
EXPOSE ${PORT}
CMD ["sh", "-c", "exec python -m \"dukcapil_${DUKCAPIL_SERVICE}\""]
