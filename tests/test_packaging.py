"""The wheel carries rules, knowledge and templates, and works from another folder."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT


@pytest.mark.slow
def test_wheel_installs_and_runs_from_another_folder(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("cmcadvisor-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for part in ("cmcadvisor/_data/rules/", "cmcadvisor/_data/knowledge/citations.yaml", "cmcadvisor/_data/templates/"):
        assert any(n.startswith(part) for n in names), part
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The fresh venv sees this environment's third-party packages (durable-rules is slow to
    # build), but not the source tree: cmcadvisor itself comes only from the wheel.
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(purelib)
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib) / "_deps.pth").write_text("\n".join(deps) + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    example = work / "program.yaml"
    example.write_bytes(EXAMPLES[0].read_bytes())
    proc = subprocess.run(
        [
            str(python),
            "-I",
            "-c",
            "from cmcadvisor.cli import main; main()",
            "assess",
            "program.yaml",
            "--format",
            "json",
            "--as-of",
            "2026-11-25",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["audit"]["engine"].startswith("durable-rules")
    located = subprocess.run(
        [str(python), "-I", "-c", "import cmcadvisor.loader as l; print(l.data_dir('rules'))"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "_data" in located
