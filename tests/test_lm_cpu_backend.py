"""llama.cpp's CPU variant: the kernel's flags, AMX permission, the choice, and what a real install loads."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from afirs_dspy.lm import cpu_backend, cpu_features
from afirs_dspy.lm.cpu_backend import VARIANT_ENV, CpuBackend, amx_usable, installed_variants, llama_lib_dir
from afirs_dspy.lm.cpu_features import ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA, amx_permitted, cpu_flags
from afirs_dspy.lm.cpu_variants import VARIANTS, VariantRefused, choose_variant, score, usable_features

HASWELL = frozenset("fpu sse4_2 avx f16c fma avx2 bmi2".split())
# This project's Xeon (Sapphire Rapids class), as /proc/cpuinfo lists it.
XEON = HASWELL | frozenset("avx_vnni avx512f avx512cd avx512vl avx512dq avx512bw avx512vbmi avx512_vnni avx512_bf16 "
                           "avx512_fp16 amx_tile amx_int8 amx_bf16".split())


def test_flags_come_from_the_first_processor_and_no_file_means_none(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_tile\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(info) == {"fpu", "avx2", "amx_tile"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_amx_is_asked_for_tile_data_and_a_refusal_means_no_amx(monkeypatch):
    calls = []
    assert amx_permitted(lambda code, arg: calls.append((code, arg)) or 0)
    assert calls == [(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)] == [(0x1023, 18)]
    assert not amx_permitted(lambda code, arg: -1)
    monkeypatch.setattr(cpu_features.sys, "platform", "darwin")
    assert not amx_permitted(lambda code, arg: pytest.fail("no arch_prctl outside Linux"))


def test_amx_counts_only_when_granted_and_avx512_only_with_all_its_parts():
    assert {"AMX_TILE", "AMX_INT8", "AVX512"} <= usable_features(XEON, amx_permitted=True)
    assert not {"AMX_TILE", "AMX_INT8"} & usable_features(XEON, amx_permitted=False)
    assert "AVX512" not in usable_features(XEON - {"avx512bw"}, amx_permitted=True)


def test_the_best_runnable_variant_is_chosen_as_ggml_ranks_them():
    assert choose_variant(VARIANTS, usable_features(XEON, True)) == "sapphirerapids"
    assert choose_variant(VARIANTS, usable_features(XEON, False)) == "zen4"  # AVX-512 + VBMI, VNNI, BF16; no AMX
    assert choose_variant(VARIANTS, usable_features(HASWELL, True)) == "haswell"
    assert choose_variant(VARIANTS, usable_features(HASWELL | {"avx_vnni"}, True)) == "alderlake"
    assert choose_variant(VARIANTS, frozenset()) == "x64"
    assert score("haswell") == 64 and score("sapphirerapids") == 4032  # ggml_backend_cpu_x86_score's values
    assert choose_variant(["haswell", "future-chip"], usable_features(XEON, True)) == "haswell"


def test_a_variant_asked_for_by_name_must_be_installed_and_runnable():
    assert choose_variant(VARIANTS, usable_features(XEON, True), asked="haswell") == "haswell"
    with pytest.raises(VariantRefused, match="needs AMX_INT8, AMX_TILE, AVX512"):
        choose_variant(VARIANTS, usable_features(HASWELL, True), asked="sapphirerapids")
    with pytest.raises(VariantRefused, match="not installed"):
        choose_variant(["haswell"], usable_features(XEON, True), asked="zen4")


def test_installed_variants_are_the_cpu_libraries_with_a_variant_name(tmp_path):
    for name in ("libggml-cpu-haswell.so", "libggml-cpu-zen4.so", "libggml-cpu.so", "libggml-base.so"):
        (tmp_path / name).write_bytes(b"")
    assert list(installed_variants(tmp_path)) == ["haswell", "zen4"]


@pytest.mark.parametrize("compiler,permitted,usable", [
    (b"GCC: (Debian 12.2.0-14+deb12u1) 12.2.0", True, False),  # GCC drops the tile shapes: the first tile op traps
    (b"GCC: (Debian 12.2.0-14+deb12u1) 12.2.0\0Debian clang version 14.0.6", True, True),
    (b"Debian clang version 14.0.6", False, False),
])
def test_amx_needs_the_kernel_and_a_clang_build(tmp_path, monkeypatch, compiler, permitted, usable):
    monkeypatch.setattr(cpu_backend, "amx_permitted", lambda: permitted)
    (tmp_path / "libggml-cpu-sapphirerapids.so").write_bytes(b"\x7fELF..." + compiler)
    (tmp_path / "libggml-cpu-zen4.so").write_bytes(b"\x7fELF... GCC: (Debian 12.2.0)")  # no AMX: its compiler is moot
    assert amx_usable(installed_variants(tmp_path)) is usable


def test_the_report_names_the_variant_and_the_features_llama_cpp_lists():
    info = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 0 |"
    backend = CpuBackend("sapphirerapids", tuple(VARIANTS), info)
    assert backend.features() == ["SSE3", "AVX2", "AVX512", "AMX_INT8", "LLAMAFILE"]
    assert backend.describe() == ("sapphirerapids, chosen at run time among 14 variants "
                                  "(SSE3 AVX2 AVX512 AMX_INT8 LLAMAFILE)")
    assert CpuBackend(None, (), info).describe().startswith("built in, no run-time choice (SSE3 AVX2")


needs_llama_cpp = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                     reason='llama-cpp-python is not installed (pip install -e ".[local]")')
REPORT = ("import json; from afirs_dspy.lm.cpu_backend import ensure_cpu_backend; b = ensure_cpu_backend(); "
          "print(json.dumps([b.variant, b.installed, b.features()]))")


def loaded_backend(variant: str | None = None) -> tuple[str | None, list[str], list[str]]:
    """What a fresh process loads (a process loads its CPU backend once; a crash stays in the child)."""
    env = {**os.environ, VARIANT_ENV: variant or ""}
    done = subprocess.run([sys.executable, "-c", REPORT], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return tuple(json.loads(done.stdout.splitlines()[-1]))


@needs_llama_cpp
def test_the_installed_llama_cpp_runs_the_variant_chosen_for_this_machine():
    variant, installed, features = loaded_backend()
    if not installed:  # a build with one built-in CPU backend (e.g. the old AVX2-only flags): nothing to choose
        assert variant is None and "AVX2" in features
        return
    assert variant == choose_variant(installed, usable_features(cpu_flags(), amx_usable(installed_variants(llama_lib_dir()))))
    assert "AVX2" in features and ("AVX512" in features) == ("AVX512" in VARIANTS[variant])


@needs_llama_cpp
def test_a_forced_avx2_variant_runs_without_avx512_code():
    variant, installed, features = loaded_backend("haswell")
    if not installed:
        pytest.skip("this llama-cpp-python build has one built-in CPU backend")
    assert variant == "haswell" and "AVX2" in features and "AVX512" not in features


def evex_instructions(library) -> int:
    """Instructions with an EVEX prefix (0x62, AVX-512's encoding; no valid x86-64 instruction starts so otherwise)."""
    listing = subprocess.run(["objdump", "-d", str(library)], capture_output=True, text=True, check=True).stdout
    return len(re.findall(r":\t62 [0-9a-f ]*\t\S", listing))


@needs_llama_cpp
@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) is not installed")
def test_what_an_avx2_only_cpu_loads_holds_no_avx512_instruction():
    """What can be checked here of "never Illegal instruction on an AVX2-only CPU": the code such a CPU runs."""
    lib_dir = llama_lib_dir()
    variants = installed_variants(lib_dir)
    if not variants:
        pytest.skip("this llama-cpp-python build has one built-in CPU backend")
    shared = [lib_dir / name for name in ("libllama.so", "libggml.so", "libggml-base.so")]
    assert [evex_instructions(path) for path in [variants["haswell"], *shared]] == [0, 0, 0, 0]
    assert evex_instructions(variants["zen4"]) > 1000  # the check does find AVX-512 code
