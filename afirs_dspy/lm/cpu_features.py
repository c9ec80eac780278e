"""What this CPU and its kernel let llama.cpp use: the instruction-set flags Linux reports, and AMX permission.

Pure Python, no llama_cpp. Linux lists in /proc/cpuinfo only what the kernel enabled (an AVX-512 whose registers
the OS does not save is left out), unlike the CPUID bits ggml's own variant scores read. AMX needs one more
step: the kernel hands out its tile-data state per process on request (``arch_prctl(ARCH_REQ_XCOMP_PERM,
XFEATURE_XTILEDATA)``), and a kernel or hypervisor may refuse although the CPU lists ``amx_tile``.
"""
from __future__ import annotations

import ctypes
import platform
import sys
from pathlib import Path
from typing import Callable

CPUINFO = Path("/proc/cpuinfo")
SYS_ARCH_PRCTL = 158  # x86-64 Linux syscall number
ARCH_REQ_XCOMP_PERM = 0x1023
XFEATURE_XTILEDATA = 18


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The first processor's ``flags`` in /proc/cpuinfo (empty where there is no such file: not Linux)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def _arch_prctl(code: int, argument: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall(ctypes.c_long(SYS_ARCH_PRCTL), ctypes.c_long(code), ctypes.c_ulong(argument))


def amx_permitted(arch_prctl: Callable[[int, int], int] = _arch_prctl) -> bool:
    """Whether the kernel grants this process AMX tile data, asked as ggml asks it (granting it for good, as
    ggml's AMX kernels would). Only x86-64 Linux has the call; elsewhere AMX is not used."""
    if not sys.platform.startswith("linux") or platform.machine() not in ("x86_64", "AMD64"):
        return False
    return arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0
