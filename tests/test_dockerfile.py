"""The one Dockerfile (decision 0008), checked without a Docker engine: hadolint's lint, the data folders the
volumes mount on, the base image by digest, and what the build context leaves out."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
SERVICE_USER = "10001"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _final_stage() -> list[str]:
    """The Dockerfile's last stage, one instruction a line (continuations joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    instructions = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    last_from = max(index for index, line in enumerate(instructions) if line.startswith("FROM "))
    return instructions[last_from:]


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_makes_the_data_folders_of_the_volumes_and_gives_them_to_the_service_user() -> None:
    stage = _final_stage()
    runs = " && ".join(line.removeprefix("RUN ") for line in stage if line.startswith("RUN "))
    assert f"useradd --create-home --uid {SERVICE_USER} --gid {SERVICE_USER}" in runs
    made = set(re.findall(r"mkdir -p ((?:/data/\S+ ?)+)", runs)[0].split())
    assert re.search(rf"chown -R {SERVICE_USER}:{SERVICE_USER} /data\b", runs), "the folders belong to the service user"
    assert stage[-1].startswith("CMD ") and f"USER {SERVICE_USER}:{SERVICE_USER}" in stage, "it runs as that user"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounted = {
        volume.split(":")[1]
        for spec in compose["services"].values()
        for volume in spec.get("volumes", [])
        if isinstance(volume, str) and volume.split(":")[1].startswith("/data/")
    }
    assert mounted and mounted <= made, f"a volume mounts on a folder the image does not make: {mounted - made}"


def test_the_base_image_is_pinned_by_digest() -> None:
    text = DOCKERFILE.read_text()
    [default] = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert DIGEST.search(default), default
    for image in re.findall(r"^FROM (\S+)", text, re.MULTILINE):
        assert image == "${PYTHON_IMAGE}", f"FROM {image}: every stage starts from the pinned base image"


def test_the_build_context_leaves_out_the_virtualenv_tools_local_data_and_secrets() -> None:
    ignored = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")
    }
    assert {".git", ".venv", ".tools", "var", "secrets", "bench", "**/__pycache__", "**/.pytest_cache"} <= ignored
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.MULTILINE)
    for sources in copied:
        for source in sources.split():
            assert source not in ignored, f"the Dockerfile copies {source}, which .dockerignore leaves out"
