"""Which of llama.cpp's x86 CPU backend variants this machine runs best, chosen without loading any of them.

A build with ``GGML_BACKEND_DL=ON GGML_CPU_ALL_VARIANTS=ON`` ships one ``libggml-cpu-<variant>.so`` per x86
feature level. ggml's own ``ggml_backend_load_all`` opens every one of them and ranks them by CPUID alone (its
score function says "does not check for OS support"); here a variant qualifies only when the kernel reports all
its features (``cpu_flags``) and, for AMX, grants the tile state (``amx_permitted``), and only the winner is
opened. The table and the score copy ``ggml/src/CMakeLists.txt`` and ``ggml-cpu/arch/x86/cpu-feats.cpp`` of
llama-cpp-python 0.3.36's llama.cpp, so the winner is the variant ggml would rank first. Pure Python.
"""
from __future__ import annotations

from collections.abc import Iterable

# ggml's feature names → the /proc/cpuinfo flags each needs.
FEATURE_FLAGS: dict[str, tuple[str, ...]] = {
    "SSE42": ("sse4_2",), "AVX": ("avx",), "F16C": ("f16c",), "FMA": ("fma",), "AVX2": ("avx2",),
    "BMI2": ("bmi2",), "AVX_VNNI": ("avx_vnni",),
    "AVX512": ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"),
    "AVX512_VBMI": ("avx512vbmi",), "AVX512_VNNI": ("avx512_vnni",), "AVX512_BF16": ("avx512_bf16",),
    "AMX_TILE": ("amx_tile",), "AMX_INT8": ("amx_int8",),
}
AMX_FEATURES = frozenset({"AMX_TILE", "AMX_INT8"})
# ggml_backend_cpu_x86_score: 1 plus one bit per feature (AMX_TILE scores nothing of its own).
SCORE_BITS = {"FMA": 1, "F16C": 2, "SSE42": 4, "BMI2": 8, "AVX": 16, "AVX2": 32, "AVX_VNNI": 64, "AVX512": 128,
              "AVX512_VBMI": 256, "AVX512_BF16": 512, "AVX512_VNNI": 1024, "AMX_INT8": 2048}
_HASWELL = ("SSE42", "AVX", "F16C", "FMA", "AVX2", "BMI2")
_AVX512 = (*_HASWELL, "AVX512")
VARIANTS: dict[str, tuple[str, ...]] = {
    "x64": (),
    "sse42": ("SSE42",),
    "sandybridge": ("SSE42", "AVX"),
    "ivybridge": ("SSE42", "AVX", "F16C"),
    "piledriver": ("SSE42", "AVX", "F16C", "FMA"),
    "haswell": _HASWELL,
    "skylakex": _AVX512,
    "cannonlake": (*_AVX512, "AVX512_VBMI"),
    "cascadelake": (*_AVX512, "AVX512_VNNI"),
    "icelake": (*_AVX512, "AVX512_VBMI", "AVX512_VNNI"),
    "cooperlake": (*_AVX512, "AVX512_VNNI", "AVX512_BF16"),
    "zen4": (*_AVX512, "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16"),
    "alderlake": (*_HASWELL, "AVX_VNNI"),
    "sapphirerapids": (*_AVX512, "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AMX_TILE", "AMX_INT8"),
}


class VariantRefused(ValueError):
    """A variant that was asked for by name but is not installed or not runnable here."""


def usable_features(flags: frozenset[str], amx_permitted: bool) -> frozenset[str]:
    """ggml's feature names whose flags the kernel reports; AMX ones only with the tile state granted."""
    return frozenset(feature for feature, needed in FEATURE_FLAGS.items()
                     if all(flag in flags for flag in needed) and (amx_permitted or feature not in AMX_FEATURES))


def score(variant: str) -> int:
    return 1 + sum(SCORE_BITS.get(feature, 0) for feature in VARIANTS[variant])


def runnable(variant: str, usable: frozenset[str]) -> bool:
    return variant in VARIANTS and set(VARIANTS[variant]) <= usable


def choose_variant(installed: Iterable[str], usable: frozenset[str], asked: str | None = None) -> str:
    """The installed variant to load: ``asked`` when given and runnable, else the runnable one ggml ranks first.
    Installed names missing from ``VARIANTS`` (a newer llama.cpp's) are never chosen: their needs are unknown."""
    installed = sorted(set(installed))
    candidates = [variant for variant in installed if runnable(variant, usable)]
    if asked:
        if asked not in installed:
            raise VariantRefused(f"llama.cpp CPU variant {asked!r} is not installed; installed: {', '.join(installed)}")
        if asked not in candidates:
            missing = sorted(set(VARIANTS.get(asked, ("unknown needs",))) - usable)
            raise VariantRefused(f"llama.cpp CPU variant {asked!r} needs {', '.join(missing)}, not usable here (not "
                                 f"offered by the CPU or kernel, or AMX code not built by clang); runnable here: "
                                 f"{', '.join(candidates)}")
        return asked
    if not candidates:
        raise VariantRefused(f"none of the installed llama.cpp CPU variants ({', '.join(installed)}) runs on this CPU")
    return max(candidates, key=score)
