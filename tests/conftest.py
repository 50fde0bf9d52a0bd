"""Shared fixtures: repository paths, a fixture rule pack, the CLI runner, golden updating."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
FIXTURE_PACK = Path(__file__).parent / "fixtures" / "pack"
# Headless Chromium as root on a closed network: no sandbox, GPU, QUIC or background connections.
BROWSER_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
sys.path.insert(0, str(Path(__file__).parent))  # programgen
# Keep the rule-pack cache of the test run away from the user's own cache.
os.environ.setdefault("CMCADVISOR_CACHE_DIR", tempfile.mkdtemp(prefix="cmcadvisor-test-cache-"))
# Terminal tables follow COLUMNS; the goldens are the piped default, whatever the developer's shell says.
os.environ.pop("COLUMNS", None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden from current output")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def fixture_args() -> list[str]:
    """Global CLI options that select the small fixture rule pack."""
    return [
        "--no-builtin-rules",
        "--rules-dir",
        str(FIXTURE_PACK / "rules"),
        "--knowledge-dir",
        str(FIXTURE_PACK / "knowledge"),
    ]
