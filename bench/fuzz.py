"""A longer fuzz run than CI's: the properties of tests/test_fuzz.py with many more examples.

Run: .venv/bin/python bench/fuzz.py [--scale N]   (default 30, i.e. 30x CI's examples; not in CI)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=30)
    args = parser.parse_args()
    env = {**os.environ, "CMCADVISOR_FUZZ_SCALE": str(args.scale)}
    command = [sys.executable, "-m", "pytest", "-q", str(ROOT / "tests" / "test_fuzz.py")]
    return subprocess.run(command, env=env, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
