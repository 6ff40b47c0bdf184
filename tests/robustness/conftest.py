"""Fixtures for the robustness tests: a counting SMTP sink and short private folders
(Unix socket paths must stay under ~100 characters)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.robustness.smtp_counter import CountingSink


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="crob-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def counting_sink() -> Iterator[CountingSink]:
    """Tests set `counting_sink.handler.mail_delay` to slow it down."""
    sink = CountingSink()
    sink.start()
    yield sink
    sink.stop()
