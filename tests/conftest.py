"""Fixtures for the API tests (they run against the installed wheel)."""

from __future__ import annotations

import random

import pytest


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)
