"""Run the recsys tests' torch work on one thread (see ``afirs_dspy.recsys.threads``):
the tensors here are tiny, and on shared cores two threads stall each other."""
import pytest

from afirs_dspy.recsys.threads import torch_threads


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    with torch_threads(1):
        yield
