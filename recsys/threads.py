"""Running a block of torch work on a given number of intra-op threads."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Use ``n`` torch threads inside the block, then restore the previous count (None: leave it).

    For single-user inference the tensors are tiny: with two threads, every
    parallel region waits for the second one, and when another process (such as
    the LLM) holds a core, that wait is a scheduler time slice (~200 ms).
    """
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
