"""Fixtures for the API tests (they run against the installed wheel)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)


@pytest.fixture
def torch_threads_restored() -> Iterator[None]:
    """Puts torch's thread count back after the test (the loop and the CLI
    set it from their settings). torch is imported here, not at the top, so
    that tests without it do not pay for it."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture
def one_torch_thread(torch_threads_restored: None) -> None:
    """One torch thread during the test, the count before it restored after:
    the cores are left to the Rust engine's threads."""
    import torch

    torch.set_num_threads(1)
