"""Gives llama.cpp the CPU backend this machine runs best, once per process, and says which one it runs.

With the README's build (``GGML_BACKEND_DL=ON GGML_CPU_ALL_VARIANTS=ON``) llama.cpp's CPU code is one library per
x86 feature level beside ``libllama.so``, and nothing is loaded until asked: llama.cpp itself would look for them
only next to the Python executable and in the current folder. ``ensure_cpu_backend`` loads the variant
``cpu_variants.choose_variant`` picks (``$AFIRS_LLAMA_CPU_VARIANT`` names one instead, e.g. ``haswell`` for
AVX2 only), before any model is created. A build with a single built-in CPU backend (older installs, other
CMake flags) needs nothing, and is reported as such.
"""
from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from afirs_dspy.lm.cpu_features import amx_permitted, cpu_flags
from afirs_dspy.lm.cpu_variants import AMX_FEATURES, VARIANTS, VariantRefused, choose_variant, usable_features
from afirs_dspy.lm.errors import LlamaCppMissing, LMSetupError

VARIANT_ENV = "AFIRS_LLAMA_CPU_VARIANT"
_PREFIX, _SUFFIX = "libggml-cpu-", ".so"


@dataclass(frozen=True)
class CpuBackend:
    variant: str | None  # None: llama.cpp was built with one CPU backend inside, no choice at run time
    installed: tuple[str, ...]  # the variants the build ships
    system_info: str  # llama.cpp's own line: the features the loaded code was compiled with

    def features(self) -> list[str]:
        """The compiled-in features llama.cpp reports as on, e.g. ``["AVX2", "AVX512", "AMX_INT8", ...]``."""
        items = (item.rpartition(" : ")[2] for item in self.system_info.split("|"))  # "CPU : SSE3 = 1" opens it
        return [item.split("=")[0].strip() for item in items if item.strip().endswith("= 1")]

    def describe(self) -> str:
        features = " ".join(self.features())
        if not self.installed:
            return f"built in, no run-time choice ({features})"
        if self.variant is None:
            return f"loaded by llama.cpp before afirs-dspy could choose ({features})"
        return f"{self.variant}, chosen at run time among {len(self.installed)} variants ({features})"


def installed_variants(lib_dir: Path) -> dict[str, Path]:
    """``{variant: library}`` for each ``libggml-cpu-<variant>.so`` in ``lib_dir``."""
    return {path.name[len(_PREFIX):-len(_SUFFIX)]: path for path in sorted(lib_dir.glob(f"{_PREFIX}*{_SUFFIX}"))}


def compiled_by_clang(library: Path) -> bool:
    """Whether the library's compiler notes (ELF ``.comment``) name clang. GCC's ``_tile_loadconfig`` is an asm
    that declares 8 of the 64 configuration bytes read, so GCC 12 drops ggml's stores of the tile shapes as
    dead: the tiles stay 0 x 0 and the first AMX instruction traps ("Illegal instruction" at ``tilezero`` in
    ``ggml_backend_amx_mul_mat``, the sapphirerapids variant on this project's Xeon). Clang's intrinsic reads the
    whole configuration."""
    return b"clang version" in library.read_bytes()


def amx_usable(variants: dict[str, Path]) -> bool:
    """AMX where clang compiled every installed AMX variant and the kernel grants the tile state (asked last:
    asking grants it to the process)."""
    with_amx = [path for name, path in variants.items() if AMX_FEATURES & set(VARIANTS.get(name, ()))]
    return bool(with_amx) and all(compiled_by_clang(path) for path in with_amx) and amx_permitted()


def llama_lib_dir() -> Path:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise LlamaCppMissing("llama-cpp-python is not installed; see the README's install command")
    return Path(next(iter(spec.submodule_search_locations))) / "lib"


_lock = threading.Lock()
_loaded: CpuBackend | None = None


def ensure_cpu_backend() -> CpuBackend:
    """Load the chosen CPU variant into llama.cpp if the build ships variants (once); what llama.cpp runs on."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = _load(llama_lib_dir())
        return _loaded


def _load(lib_dir: Path) -> CpuBackend:
    import llama_cpp  # loads libllama and libggml, whose registry the variant joins

    variants = installed_variants(lib_dir)
    variant = None
    if variants:
        # Through libllama's handle, whose dependencies hold the registry llama.cpp reads: the wheel's
        # libggml.so is a copy of the libggml.so.0 libllama loaded, so opening it by path would make a second one.
        ggml = ctypes.CDLL(str(lib_dir / "libllama.so"))
        ggml.ggml_backend_load.restype = ctypes.c_void_p
        ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
        ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
        if ggml.ggml_backend_reg_count() == 0:  # else someone in this process loaded backends already
            try:
                variant = choose_variant(variants, usable_features(cpu_flags(), amx_usable(variants)),
                                         os.environ.get(VARIANT_ENV) or None)
            except VariantRefused as refused:
                raise LMSetupError(f"{refused} (set by ${VARIANT_ENV})" if os.environ.get(VARIANT_ENV)
                                   else str(refused)) from None
            # llama-cpp-python prints ggml's "loaded CPU backend" line unless told otherwise (Llama(verbose=...) resets it)
            quiet = logging.getLogger("llama-cpp-python")
            if quiet.level == logging.NOTSET:
                quiet.setLevel(logging.ERROR)  # its level map is one off: ggml's INFO arrives as WARNING
            # ggml checks the variant's CPUID score once more and returns NULL rather than run it where it can't.
            if not ggml.ggml_backend_load(str(variants[variant]).encode()):
                raise LMSetupError(f"llama.cpp refused its CPU variant {variants[variant]}")
    return CpuBackend(variant, tuple(variants), llama_cpp.llama_print_system_info().decode().strip())
