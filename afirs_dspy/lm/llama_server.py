"""``python -m afirs_dspy.lm.llama_server --model FILE ...``: llama-cpp-python's OpenAI-compatible server on the CPU
variant chosen for this machine.

``python -m llama_cpp.server`` itself finds no CPU code in the README's build: llama.cpp looks for its variant
libraries next to the Python executable and in the current folder, not beside ``libllama.so``. This loads the
chosen one first (``cpu_backend``), then runs the server with the same arguments.
"""
from __future__ import annotations

import runpy

from afirs_dspy.lm.cpu_backend import ensure_cpu_backend

if __name__ == "__main__":
    ensure_cpu_backend()
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
