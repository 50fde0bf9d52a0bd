"""The rule-pack cache saves time and nothing else: same rules, damaged entries ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmcadvisor import cache
from cmcadvisor.registry import load_rulepack


def test_cached_pack_equals_fresh_pack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CMCADVISOR_CACHE_DIR", str(tmp_path))
    fresh = load_rulepack()
    assert list(tmp_path.glob("rules-*.json"))
    cached = load_rulepack()
    assert [r.spec for r in cached.rules] == [r.spec for r in fresh.rules]
    assert [r.compiled for r in cached.rules] == [r.compiled for r in fresh.rules]
    assert [r.source for r in cached.rules] == [r.source for r in fresh.rules]
    assert cached.sha256 == fresh.sha256


def test_damaged_cache_is_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CMCADVISOR_CACHE_DIR", str(tmp_path))
    fresh = load_rulepack()
    for path in tmp_path.glob("rules-*.json"):
        path.write_text('{"format": 1, "value": [{"path": "x.yaml", "spec": {"id": "bad"}}]}')
    assert [r.spec for r in load_rulepack().rules] == [r.spec for r in fresh.rules]
    for path in tmp_path.glob("rules-*.json"):
        path.write_text("not json")
    assert len(load_rulepack().rules) == len(fresh.rules)


def test_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CMCADVISOR_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CMCADVISOR_NO_CACHE", "1")
    assert cache.cache_dir() is None
    load_rulepack()
    assert not list(tmp_path.iterdir())
