"""A short description of the machine a number was measured on."""
from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_info(device: str | torch.device = "cpu") -> dict:
    """CPU model, usable cores, torch threads and version, load average, and the GPU name on CUDA."""
    device = torch.device(device)
    return {
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        # Other work on the same cores slows timings; the 5/15-minute averages show it.
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def machine_line(info: dict) -> str:
    """One sentence for a results file, from :func:`machine_info`."""
    gpu = f" ({info['gpu']})" if info["gpu"] else ""
    return (f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']} ({info['torch_threads']} "
            f"threads), device {info['device']}{gpu}; load average (1/5/15 min) {info['load_average']} at the end.")
