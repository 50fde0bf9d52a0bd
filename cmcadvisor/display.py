"""The display vocabulary: how ids, fact values, amounts, dates and counts read for people.

Pure functions over ``knowledge/display.yaml`` (the built-in one unless a vocabulary is passed):
human labels for enum values and fact paths, money (``US$ 8.0 million``), quantities
(``26 weeks``), percentages (``33 %``), plurals (``1 open question``), prose dates
(``7 July 2027``) and plain-language caveats in place of the knowledge base's confidence marks.
Renderers and the message filling of findings and risks use it. It must not decide anything,
print, or change the ids and raw values of the JSON output.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
from collections.abc import Iterable, Mapping
from typing import Protocol

from cmcadvisor.errors import KnowledgeError, UserInputError
from cmcadvisor.loader import data_dir
from cmcadvisor.memo import PerObject, remember
from cmcadvisor.models.knowledge import DisplayFile
from cmcadvisor.models.program import STAGES
from cmcadvisor.validation import load_model

_INDEX = re.compile(r"\[\d+\]")
_INSTANCE = re.compile(r"([a-z][a-z0-9_]*)\.(\d+)")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_ABBREVIATION = re.compile(r"(?:\b(?:sec|Sec|No|no|vs|e\.g|i\.e|etc|St|approx|Fig|fig)|\b[A-Z]\.[A-Z])\.$")
_CODES: dict[int, tuple[re.Pattern[str], ...]] = {}
# Labels already made, per vocabulary: (field path, exact type, value) -> label, for values of the
# types in _CACHED (hashable, and the label depends on nothing else). A vocabulary is frozen, so
# its labels never change. The vocabularies in use are held weakly, the last few only, and each
# one's labels are bounded: the cache never grows with the programs a long-lived process reads.
_CACHED = frozenset({str, bool, int, datetime.date})
_LABELS_PER_VOCABULARY = 4096
_LABELS: PerObject[DisplayFile, dict[tuple[str | None, type, object], str]] = PerObject(lambda _: {})


@functools.cache
def builtin() -> DisplayFile:
    """The packaged display vocabulary (``knowledge/display.yaml``)."""
    path = data_dir("knowledge") / "display.yaml"
    try:
        return load_model(path, DisplayFile, KnowledgeError, display="knowledge/display.yaml")
    except KnowledgeError:
        raise
    except UserInputError as exc:  # pragma: no cover - the packaged file is linted
        raise KnowledgeError(exc.items) from None


def _v(vocab: DisplayFile | None) -> DisplayFile:
    return vocab if vocab is not None else builtin()


def fact_key(path: str) -> str:
    """A fact path with item indexes folded: ``a.b[0].c`` -> ``a.b[].c``."""
    return _INDEX.sub("[]", path)


def _humanise(word: str) -> str:
    return word.replace("[]", "").replace("_", " ")


def fact_label(path: str, vocab: DisplayFile | None = None) -> str:
    """The human label of a fact path (``clinical.stage_index`` -> ``clinical stage``)."""
    entry = _v(vocab).facts.get(fact_key(path))
    if entry is not None:
        return entry.label
    return _humanise(fact_key(path).rsplit(".", 1)[-1])


def term(value: str, vocab: DisplayFile | None = None) -> str:
    """The label of an id shown on its own (milestone, activity, status, category, topic)."""
    return label(None, value, vocab)


def scalar_text(value: object) -> str:
    """A program-file value as the text a YAML reader (and ``--set``) reads back to it: no value is ``""``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value)
    return str(value)


def number(value: int | float) -> str:
    """A number with thousands separators; floats to at most two decimals."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def money(amount: int | float, vocab: DisplayFile | None = None) -> str:
    """An amount in US dollars: ``US$ 8.0 million``, ``US$ 1.2 billion``, ``US$ 450,000``."""
    m = _v(vocab).money
    sign = "-" if amount < 0 else ""
    size = abs(float(amount))
    if size >= 1e9:
        return f"{sign}{m.currency} {size / 1e9:.1f} {m.billion}"
    if size >= 1e6:
        return f"{sign}{m.currency} {size / 1e6:.1f} {m.million}"
    return f"{sign}{m.currency} {round(size):,}"


def percent(fraction: int | float) -> str:
    """A fraction as a percentage: 0.33 -> ``33 %`` (one decimal under 10 %)."""
    value = float(fraction) * 100
    if math.isnan(value):
        return "not computable"
    if not math.isfinite(value) or abs(value) >= 1e9:
        return "over 1,000,000,000 %" if value > 0 else "under -1,000,000,000 %"
    if abs(value - round(value)) < 0.05:
        return f"{round(value):,} %"
    return f"{value:,.1f} %"


def plural_word(n: int | float, singular: str, plural: str | None = None, vocab: DisplayFile | None = None) -> str:
    """The word for ``n`` things: singular for exactly 1, else the plural (irregular ones from the vocabulary)."""
    if n == 1:
        return singular
    if plural is not None:
        return plural
    known = _v(vocab).plurals.get(singular)
    if known is not None:
        return known
    head, _, last = singular.rpartition(" ")
    if last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        word = last[:-1] + "ies"
    elif last.endswith(("s", "x", "ch", "sh")):
        word = last + "es"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def plural(n: int | float, singular: str, plural: str | None = None, vocab: DisplayFile | None = None) -> str:
    """A count with its noun: ``1 open question``, ``16 further open findings``."""
    return f"{number(n)} {plural_word(n, singular, plural, vocab)}"


def quantity(n: int | float, unit: str, vocab: DisplayFile | None = None) -> str:
    """A number with its unit: ``26 weeks``, ``1 month``, ``US$ 8.0 million``, ``33 %``."""
    v = _v(vocab)
    if unit == "usd":
        return money(n, v)
    if unit == "percent":
        return percent(n)
    if unit == "stage":
        return _stage(n, v)
    known = v.units.get(unit)  # type: ignore[call-overload]
    if known is None:
        return plural(n, unit, vocab=v)
    word = known.singular if n == 1 else known.plural
    return f"{number(n)} {word}".rstrip()


def _stage(n: int | float, vocab: DisplayFile) -> str:
    index = int(n)
    if 0 <= index < len(STAGES) and index == n:
        return label("clinical.stage", STAGES[index], vocab)
    return number(n)


def human_date(value: datetime.date | str | None, vocab: DisplayFile | None = None) -> str:
    """A date as prose (``7 July 2027``); ISO text is accepted; other text is returned as is; None is empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            day = datetime.date.fromisoformat(value)
        except ValueError:
            return value
    else:
        day = value
    return f"{day.day} {_v(vocab).months[day.month - 1]} {day.year}"


def label(field_path: str | None, value: object, vocab: DisplayFile | None = None) -> str:
    """Any value of a field as prose: enum labels, yes/no, units, money, dates; free text unchanged.

    ``field_path`` is a fact path (item indexes allowed) or None for an id shown on its own.
    """
    v = _v(vocab)
    kind = type(value)
    if kind not in _CACHED:
        return _label(field_path, value, v)
    labels = _LABELS(v)
    key = (field_path, kind, value)
    found = labels.get(key)
    if found is None:
        found = remember(labels, key, _label(field_path, value, v), _LABELS_PER_VOCABULARY)
    return found


def _label(field_path: str | None, value: object, v: DisplayFile) -> str:
    """:func:`label`, made anew."""
    if value is None:
        return "not given"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else list(value)
        return ", ".join(label(field_path, item, v) for item in items)
    key = fact_key(field_path) if field_path else None
    entry = v.facts.get(key) if key else None
    unit = entry.unit if entry is not None else None
    if isinstance(value, datetime.date):
        return human_date(value, v)
    if isinstance(value, int | float):
        return quantity(value, unit, v) if unit and unit not in ("count", "date") else number(value)
    text = str(value)
    if unit == "date":
        return human_date(text, v)
    if key is not None:
        override = v.fields.get(key, {}).get(text)
        if override is not None:
            return override
    known = v.values.get(text)
    if known is not None:
        return known
    instance = _INSTANCE.fullmatch(text)  # "comparability_study.2": the second of its kind
    if instance and instance.group(1) in v.values:
        return f"{v.values[instance.group(1)]} {instance.group(2)}"
    return text


def fact_line(path: str, value: object, vocab: DisplayFile | None = None) -> str:
    """One fact as prose: ``clinical stage: phase 1``."""
    return f"{fact_label(path, vocab)}: {label(path, value, vocab)}"


def facts_text(facts: Mapping[str, object], vocab: DisplayFile | None = None) -> str:
    """Several facts as prose, ``; ``-separated, in the given order."""
    return "; ".join(fact_line(path, value, vocab) for path, value in facts.items())


def _codes(vocab: DisplayFile) -> tuple[re.Pattern[str], ...]:
    key = id(vocab.caveats)
    found = _CODES.get(key)
    if found is None:
        found = tuple(re.compile(p) for p in vocab.caveats.source_codes)
        _CODES[key] = found
    return found


def has_source_code(text: str, vocab: DisplayFile | None = None) -> bool:
    """Whether a text carries the knowledge base's authoring shorthand (``(R)``, ``V-sec``, ``D14``, fact sheet)."""
    return any(p.search(text) for p in _codes(_v(vocab)))


def plain_note(text: str | None, vocab: DisplayFile | None = None) -> str:
    """An authoring note with every sentence that carries a source code left out ("" when none is left)."""
    if not text:
        return ""
    v = _v(vocab)
    kept = [s for s in sentences(text) if not has_source_code(s, v)]
    return " ".join(kept)


def sentences(text: str) -> list[str]:
    """A text split into sentences (not after abbreviations such as ``sec.``, ``e.g.`` or ``U.S.``)."""
    out: list[str] = []
    for part in _SENTENCE.split(" ".join(text.split())):
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {part}"
        elif part:
            out.append(part)
    return out


class _CitationLike(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def year(self) -> int: ...

    @property
    def issuer(self) -> str: ...


def caveats(
    confidence: str | None,
    citations: Iterable[_CitationLike] = (),
    unsettled: str | Iterable[str] | None = None,
    vocab: DisplayFile | None = None,
) -> list[str]:
    """Plain-language caveats for readers, in place of confidence marks and authoring notes.

    One sentence for the confidence of the point (none when verified), one per draft year of
    its sources ("Draft guidance (2025): may change."), one when a source is superseded, one
    when it rests on a cmcadvisor planning assumption, then what is left of the authoring note
    once sentences with source codes are dropped. The full notes stay in JSON and the auditor view.
    """
    v = _v(vocab)
    c = v.caveats
    out: list[str] = []
    refs = list(citations)
    for year in sorted({ref.year for ref in refs if ref.status == "draft"}):
        out.append(c.draft.replace("{year}", str(year)))
    if any(ref.status in ("superseded", "withdrawn") for ref in refs):
        out.append(c.superseded)
    if any(ref.issuer.startswith("cmcadvisor") for ref in refs):
        out.append(c.heuristic)
    sentence = c.confidence.get(confidence, "") if confidence else ""  # type: ignore[call-overload]
    if sentence:
        out.append(sentence)
    notes = [unsettled] if isinstance(unsettled, str) else list(unsettled or ())
    for note in notes:
        plain = plain_note(note, v)
        if plain and plain not in out:
            out.append(plain)
    return out


def finding_caveats(finding: object, vocab: DisplayFile | None = None) -> list[str]:
    """:func:`caveats` of a finding or pathway result (anything with confidence/citations/unsettled)."""
    confidence = getattr(finding, "confidence", None)
    citations = [c for c in getattr(finding, "citations", ()) if hasattr(c, "status")]
    return caveats(confidence if isinstance(confidence, str) else None, citations, getattr(finding, "unsettled", None), vocab)


def shorten(text: str, width: int) -> str:
    """One line of at most ``width`` characters, cut at a word boundary with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    head = flat[: width - 1]
    if flat[width - 1] != " " and " " in head[width // 2 :]:
        head = head[: head.rfind(" ")]
    return head.rstrip(" ,;:-") + "…"


def short_labels(texts: Iterable[str], width: int) -> list[str]:
    """Labels of at most ``width`` characters that stay distinct (a chart's axis, a narrow column).

    Texts that would read the same once shortened keep their beginning and their end instead;
    if two still read the same (or were the same to begin with), they are numbered.
    """
    full = [" ".join(t.split()) for t in texts]
    out = [shorten(t, width) for t in full]
    clashes: dict[str, list[int]] = {}
    for index, text in enumerate(out):
        clashes.setdefault(text, []).append(index)
    for indexes in clashes.values():
        if len(indexes) < 2:
            continue
        shared = _common_words([full[i] for i in indexes])
        if ": " in shared:  # "Activity: item A" and "Activity: item B" keep the activity and the item
            shared = shared[: shared.rindex(": ") + 2]
        for index in indexes:
            text = full[index]
            rest = text[len(shared) :].strip()
            if len(text) > width and rest:
                head = shorten(shared, max(20, width * 2 // 5)).rstrip("…").rstrip(" ,;:-")
                out[index] = shorten(f"{head}: {rest}" if head else rest, width)
    seen: dict[str, int] = {}
    for index, text in enumerate(out):
        count = seen.get(text, 0) + 1
        seen[text] = count
        if count > 1:
            suffix = f" ({count})"
            out[index] = (text if len(text) + len(suffix) <= width else shorten(text, width - len(suffix))) + suffix
    return out


def _common_words(texts: list[str]) -> str:
    """The longest run of whole words every text starts with."""
    first = texts[0]
    end = 0
    for position, char in enumerate(first):
        if any(len(t) <= position or t[position] != char for t in texts[1:]):
            break
        if char == " ":
            end = position + 1
    else:
        end = len(first)
    return first[:end]
