"""The loader's shortcuts (tag resolution, built scalars) read every text exactly as PyYAML's safe loader does."""

from __future__ import annotations

import math

import pytest
import yaml

from cmcadvisor import loader

TEXTS = [
    "", "~", "null", "Null", "NULL", "nil", "none", "true", "True", "TRUE", "tRUE", "yes", "Yes", "no", "On", "off",
    "y", "n", "0", "-0", "+12", "012", "0o17", "0x1F", "0b101", "1_000", "1:30", "190:20:30", "1.5", "-.5", ".5", "1e6",
    "1.0e+6", "6.8523015e+5", ".inf", "-.Inf", ".NaN", ".nan", "2027-01-01", "2027-02-30", "2027-1-1",
    "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "<<", "=", "!", "&", "*", "-", "--", ".", "cdmo",
    "Phase 2", "tech transfer", "o", "on call",
    "12 weeks", "2027-01-01 and later", "naïve", "日本", "x" * 200, "1" * 200,
]  # fmt: skip


@pytest.mark.parametrize("text", TEXTS)
def test_tags_resolve_as_pyyaml_does(text: str) -> None:
    fast, reference = loader._Loader(""), yaml.SafeLoader("")
    for _ in range(2):  # the second time through the table
        for implicit in ((True, False), (False, True), (True, True), (False, False)):
            assert fast.resolve(yaml.ScalarNode, text, implicit) == reference.resolve(yaml.ScalarNode, text, implicit)  # type: ignore[no-untyped-call]
    for kind in (yaml.SequenceNode, yaml.MappingNode):
        assert fast.resolve(kind, None, True) == reference.resolve(kind, None, True)  # type: ignore[no-untyped-call]


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def test_values_read_as_pyyaml_reads_them() -> None:
    """Every text plain, single- and double-quoted, twice (the second time from the tables)."""
    lines = []
    for index, text in enumerate(TEXTS):
        if text not in ("<<", "=", "!", "&", "*", "-", "2027-02-30"):  # these cannot stand as plain values
            lines.append(f"p{index}: {text}")
        lines.append(f"s{index}: '{text}'")
        lines.append(f'd{index}: "{text}"')
    document = "\n".join(lines) + "\nlist: [1, '1', yes, 'yes', 2027-01-01, ~, [a, {b: 2}]]\n"
    expected = yaml.load(document, Loader=yaml.SafeLoader)  # the pure-Python reference
    for _ in range(2):
        assert _same(loader.parse_text(document, "t.yaml").data, expected)


def test_libyaml_is_used_when_present() -> None:
    if not yaml.__with_libyaml__:  # pragma: no cover - depends on the PyYAML build
        pytest.skip("PyYAML built without libyaml")
    assert issubclass(loader._Loader, yaml.CSafeLoader)
