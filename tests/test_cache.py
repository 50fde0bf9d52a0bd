"""The content-hash cache saves time and nothing else: same rules and knowledge, damaged or stale entries ignored."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import pytest

from cmcadvisor import cache
from cmcadvisor.engine import RULES_PER_RULESET, ruleset_definitions
from cmcadvisor.errors import KnowledgeError
from cmcadvisor.knowledge import load_knowledge
from cmcadvisor.loader import data_dir
from cmcadvisor.models.knowledge import CitationsFile
from cmcadvisor.registry import load_rulepack
from cmcadvisor.validation import load_model


def test_cached_pack_equals_fresh_pack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CMCADVISOR_CACHE_DIR", str(tmp_path))
    fresh = load_rulepack()
    assert list(tmp_path.glob("rules-*.pickle"))
    cached = load_rulepack()
    assert [r.spec for r in cached.rules] == [r.spec for r in fresh.rules]
    assert [r.compiled for r in cached.rules] == [r.compiled for r in fresh.rules]
    assert [r.source for r in cached.rules] == [r.source for r in fresh.rules]
    assert cached.sha256 == fresh.sha256


def test_damaged_cache_is_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CMCADVISOR_CACHE_DIR", str(tmp_path))
    fresh = load_rulepack()
    entries = list(tmp_path.glob("rules-*.pickle"))
    assert entries
    for damage in (b"not a pickle", entries[0].read_bytes()[:200], b""):  # garbage, truncated, empty
        for path in entries:
            path.write_bytes(damage)
        again = load_rulepack()
        assert [r.spec for r in again.rules] == [r.spec for r in fresh.rules]
        assert [r.compiled for r in again.rules] == [r.compiled for r in fresh.rules]
        assert again.sha256 == fresh.sha256


def test_entry_written_by_other_code_is_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An entry is used only by the code that wrote it (same modules, Python and pydantic)."""
    monkeypatch.setenv("CMCADVISOR_CACHE_DIR", str(tmp_path))
    fresh = load_rulepack()
    for path in tmp_path.glob("rules-*.pickle"):
        with path.open("wb") as handle:  # a well-formed entry of the same shape, from other code
            pickle.dump("another version of the tool", handle)
            pickle.dump([("x.yaml", None, None)], handle)
    assert [r.spec for r in load_rulepack().rules] == [r.spec for r in fresh.rules]
    cache.write("probe", [1, 2])
    assert cache.read("probe") == [1, 2]
    monkeypatch.setattr(cache, "code_tag", lambda: "edited modules")
    assert cache.read("probe") is None


def test_cached_knowledge_equals_fresh_knowledge(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CMCADVISOR_CACHE_DIR", str(tmp_path))
    fresh = load_knowledge()
    assert list(tmp_path.glob("model-*.pickle"))
    cached = load_knowledge()
    assert cached == fresh
    for path in tmp_path.glob("model-*.pickle"):
        path.write_bytes(b"damaged")
    assert load_knowledge() == fresh


def test_cached_durable_definitions_equal_fresh_ones(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The durable-rules adapter's ruleset definitions, kept under the pack's hash, are the ones it builds."""
    monkeypatch.setenv("CMCADVISOR_CACHE_DIR", str(tmp_path))
    pack = load_rulepack()
    ordered = sorted(pack.compiled_active(), key=lambda rule: rule.id)
    chunks = [ordered[i : i + RULES_PER_RULESET] for i in range(0, len(ordered), RULES_PER_RULESET)]
    codec, fresh = ruleset_definitions(chunks, None)  # no key: nothing kept
    assert not list(tmp_path.glob("durable-*.pickle"))
    assert ruleset_definitions(chunks, pack.sha256)[1] == fresh  # built and kept
    entries = list(tmp_path.glob("durable-*.pickle"))
    assert entries
    cached_codec, cached = ruleset_definitions(chunks, pack.sha256)  # read back
    assert cached == fresh
    assert (cached_codec.above, cached_codec.below) == (codec.above, codec.below)
    assert ruleset_definitions(chunks[:-1], pack.sha256)[1] == fresh[:-1]  # an entry of another shape: rebuilt
    for path in entries:
        path.write_bytes(b"damaged")
    assert ruleset_definitions(chunks, pack.sha256)[1] == fresh


def test_cache_never_hides_an_edited_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Entries are keyed by the file's bytes: an edited knowledge file is read and validated again."""
    monkeypatch.setenv("CMCADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    source = data_dir("knowledge") / "citations.yaml"
    copy = tmp_path / "citations.yaml"
    copy.write_bytes(source.read_bytes())
    assert load_model(copy, CitationsFile, KnowledgeError).citations
    copy.write_text("citations: [{id: not-a-citation-id}]\n", encoding="utf-8")
    with pytest.raises(KnowledgeError):
        load_model(copy, CitationsFile, KnowledgeError)


def test_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CMCADVISOR_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CMCADVISOR_NO_CACHE", "1")
    assert cache.cache_dir() is None
    load_rulepack()
    assert not list(tmp_path.iterdir())


def test_entry_others_may_write_is_not_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Entries are the user's own (mode 0600); one that others could have written is never unpickled."""
    monkeypatch.setenv("CMCADVISOR_CACHE_DIR", str(tmp_path))
    cache.write("probe", {"a": 1})
    (entry,) = tmp_path.glob("probe.pickle")
    assert entry.stat().st_mode & 0o077 == 0
    assert cache.read("probe") == {"a": 1}
    entry.chmod(0o666)
    assert cache.read("probe") is None


def _entry(folder: Path, name: str, size: int, age_days: float) -> Path:
    """A file of ``size`` bytes that begins as an entry of its suffix does (a pickled code tag; format 1's JSON)."""
    path = folder / name
    head = pickle.dumps("0" * 64, protocol=pickle.HIGHEST_PROTOCOL) if name.endswith(".pickle") else b'{"format":1,"value":'
    path.write_bytes(head + b"x" * max(0, size - len(head)))
    path.chmod(0o600)
    when = time.time() - age_days * 86400
    os.utime(path, (when, when))
    return path


def test_the_cache_stays_bounded_least_recently_used_first(tmp_path: Path) -> None:
    """Each edit of a rule or knowledge file makes a new entry: pruning keeps the folder under its limit."""
    digest = "0123456789abcdef" * 2
    old = _entry(tmp_path, f"rules-0.1.0-{'a' * 32}.pickle", 400, age_days=30)
    middle = _entry(tmp_path, f"model-CitationsFile-0.1.0-{'b' * 32}.pickle", 400, age_days=3)
    new = _entry(tmp_path, f"rules-0.1.0-{digest}.pickle", 400, age_days=0)
    legacy = _entry(tmp_path, f"rules-0.1.0-{'c' * 32}.json", 10, age_days=1)  # format 1
    notes = _entry(tmp_path, "notes.json", 5000, age_days=90)  # not an entry: never touched
    other = _entry(tmp_path, f"report-{'d' * 31}.pickle", 5000, age_days=90)  # 31 hex digits: not an entry
    removed = cache.prune(tmp_path, keep=new.name, limit=1000)
    assert sorted(removed) == sorted([legacy.name, old.name])
    assert new.exists() and middle.exists() and notes.exists() and other.exists()
    assert not old.exists() and not legacy.exists()
    assert cache.prune(tmp_path, keep=new.name, limit=1000) == []  # under the limit: nothing more


def test_pruning_never_removes_a_file_that_only_looks_like_an_entry_by_name(tmp_path: Path) -> None:
    """A folder named by CMCADVISOR_CACHE_DIR may hold the user's own files: content decides, not the name alone."""
    mine = tmp_path / f"results-{'a' * 32}.json"
    mine.write_text('{"rows": [1, 2, 3]}')
    mine.chmod(0o600)
    theirs = tmp_path / f"export-{'b' * 32}.pickle"
    theirs.write_bytes(b"not a cache entry" * 1000)
    theirs.chmod(0o600)
    assert cache.prune(tmp_path, limit=0) == []
    assert mine.exists() and theirs.exists()


def test_a_read_marks_its_entry_used_and_a_write_prunes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CMCADVISOR_CACHE_DIR", str(tmp_path))
    cache.write(f"probe-{'e' * 32}", {"a": 1})
    (entry,) = tmp_path.glob("probe-*.pickle")
    when = time.time() - 10 * 86400
    os.utime(entry, (when, when))
    assert cache.read(f"probe-{'e' * 32}") == {"a": 1}
    assert entry.stat().st_mtime > when + 86400  # used today
    stale = _entry(tmp_path, f"probe-{'f' * 32}.pickle", 10, age_days=40)
    monkeypatch.setattr(cache, "MAX_BYTES", entry.stat().st_size + 5)
    cache.write(f"probe-{'1' * 32}", {"b": 2})
    assert not stale.exists()  # the least recently used went first
    assert cache.read(f"probe-{'1' * 32}") == {"b": 2}
