"""Shared fixtures. The seeded `rng` is the only source of randomness in the tests (STYLE.md §11)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "akida", derandomize=True, deadline=None, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("akida")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261127)


@pytest.fixture
def torch_one_thread():
    """PyTorch on one thread for the test (tiny tensors: its thread pool only contends for the
    cores, about 10x slower); a module using it imports torch itself (`pytest.importorskip`)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
