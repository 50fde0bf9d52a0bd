"""The risk register: the findings of an assessment turned into scored, owned risks.

``load_risk_categories`` reads ``knowledge/risk_categories.yaml`` (the categories, which
findings enter the register and how they are scored); ``build_risks`` makes one
:class:`~cmcadvisor.models.result.Risk` per registered finding, in the spirit of ICH Q9(R1):
cause, effect, likelihood and impact (1-5), score and level, mitigation, owner and trigger.
The scoring is a cmcadvisor heuristic kept as data, not a scale from ICH Q9(R1). Category texts
and citations carry applicability conditions (``applies_when``); the parts the program's facts
rule out are left out, so an in vivo vector program never reads cell-therapy advice.

This module only maps findings to risks. It must not evaluate rules, invent findings, read the
clock, print, or format for any output (renderers do that).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

from cmcadvisor import display
from cmcadvisor.errors import ErrorItem, KnowledgeError, UserInputError
from cmcadvisor.facts import FactSet
from cmcadvisor.loader import Document, data_dir, format_loc, load_document
from cmcadvisor.models.knowledge import RiskCategoriesFile, RiskCategory
from cmcadvisor.models.result import FindingResult, Risk
from cmcadvisor.models.rule import TOPICS, Condition, TextPart
from cmcadvisor.reference_eval import ruled_out
from cmcadvisor.validation import load_model

RISK_CATEGORIES_FILE = "risk_categories.yaml"
WAIVED_MARK = " (accepted: waived)"
Level = Literal["low", "medium", "high"]


@dataclass(frozen=True)
class RiskCategories:
    """The loaded register configuration, with each topic resolved to its category id."""

    config: RiskCategoriesFile
    by_topic: Mapping[str, str]
    source: str

    @property
    def categories(self) -> Mapping[str, RiskCategory]:
        """Categories by id."""
        return self.config.categories

    @cached_property
    def _texts(self) -> dict[str, tuple[_Text, _Text, _Text]]:
        """Per category: its effect, mitigation and trigger as sentences, made once per loaded configuration."""
        return {
            cid: (_prepared(category.effect), _prepared(category.mitigation), _prepared(category.trigger))
            for cid, category in self.config.categories.items()
        }


def risk_level(score: int) -> Level:
    """The contract's bands: low 1-5, medium 6-14, high 15-25."""
    if not 1 <= score <= 25:
        raise ValueError(f"risk score {score} is outside 1..25")
    if score <= 5:
        return "low"
    if score <= 14:
        return "medium"
    return "high"


def load_risk_categories(folder: Path | None = None, *, citations: Collection[str] | None = None) -> RiskCategories:
    """Load and cross-check ``risk_categories.yaml`` from a knowledge folder (built-in by default).

    An organisation's ``--knowledge-dir`` without the file falls back to the built-in one.
    Topics must be contract topics, each in at most one category, and ``fallback`` must name a
    category. When ``citations`` (the knowledge base's citation ids) is given, every citation
    of a file read from ``folder`` must be among them; the built-in fallback is not checked
    against a foreign knowledge base.
    """
    builtin = data_dir("knowledge") / RISK_CATEGORIES_FILE
    path = builtin if folder is None else folder / RISK_CATEGORIES_FILE
    fell_back = folder is not None and not path.is_file()
    if fell_back:
        path = builtin
    shipped = path == builtin
    display = f"knowledge/{RISK_CATEGORIES_FILE}" if shipped else str(path)
    if not path.is_file():
        raise KnowledgeError.single(display, "missing knowledge file")
    config = load_model(path, RiskCategoriesFile, KnowledgeError, display=display)  # through the content-hash cache
    problems: list[ErrorItem] = []
    by_topic: dict[str, str] = {}
    parsed: list[Document] = []  # the file's line map, parsed only to place a problem

    def problem(loc: tuple[str | int, ...], message: str) -> None:
        if not parsed:
            try:
                parsed.append(load_document(path, display=display))
            except UserInputError as exc:
                raise KnowledgeError(exc.items) from None
        problems.append(ErrorItem(display, parsed[0].line_of(loc), format_loc(loc), message))

    for cid, category in config.categories.items():
        for index, topic in enumerate(category.topics):
            where = ("categories", cid, "topics", index)
            if topic not in TOPICS:
                problem(where, f"unknown topic {topic}")
            elif topic in by_topic:
                problem(where, f"topic {topic} is already in category {by_topic[topic]}")
            else:
                by_topic[topic] = cid
        for name in ("effect", "mitigation", "trigger"):
            text = getattr(category, name)
            if not isinstance(text, str) and all(part.applies_when is not None for part in text):
                problem(("categories", cid, name), "needs at least one part without applies_when, so no program reads it empty")
        if citations is not None and not fell_back:
            for index, ref in enumerate(category.citations):
                if ref not in citations:
                    problem(("categories", cid, "citations", index), f"unknown citation {ref}")
    if config.fallback not in config.categories:
        problem(("fallback",), f"unknown category {config.fallback}")
    scoring = config.scoring
    for severity in ("critical", "high", "medium", "low", "info"):
        if severity not in scoring.impact_by_severity:
            problem(("scoring", "impact_by_severity"), f"no impact for severity {severity}")
    for kind in sorted({*config.selection.kinds, *config.selection.kinds_if_severe}):
        if kind not in scoring.likelihood_by_kind:
            problem(("scoring", "likelihood_by_kind"), f"no likelihood for kind {kind}")
    if problems:
        raise KnowledgeError(problems)
    return RiskCategories(config=config, by_topic=by_topic, source=display)


def is_registered(finding: FindingResult, categories: RiskCategories) -> bool:
    """Whether a finding enters the register (by its status, kind and severity)."""
    selection = categories.config.selection
    if finding.kind == "undetermined" or finding.status not in selection.statuses:
        return False
    if finding.kind in selection.kinds:
        return True
    return finding.kind in selection.kinds_if_severe and finding.severity in selection.severe


def category_of(finding: FindingResult, categories: RiskCategories) -> str:
    """The category of the finding's first topic that maps to one, else the fallback."""
    return next((categories.by_topic[t] for t in finding.topics if t in categories.by_topic), categories.config.fallback)


def score_of(finding: FindingResult, categories: RiskCategories) -> tuple[int, int]:
    """Likelihood and impact (1-5 each) of a finding, by the scoring block."""
    scoring = categories.config.scoring
    impact = scoring.impact_by_severity.get(finding.severity, 3)
    likelihood = scoring.likelihood_by_kind.get(finding.kind, 3) if finding.kind != "undetermined" else 1
    if finding.confidence == "unverified":
        likelihood += scoring.unverified_adjustment
    likelihood = max(scoring.likelihood_floor, min(5, likelihood))
    return likelihood, max(1, min(5, impact))


@lru_cache(maxsize=4096)  # findings' titles and details recur from program to program
def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if not text or text.endswith((".", "!", "?")) else text + "."


# A category text made into sentences once: each part's sentence with its applicability condition.
_Text = tuple[tuple[str, Condition | None], ...]


def _prepared(text: str | Sequence[TextPart]) -> _Text:
    if isinstance(text, str):
        return ((_sentence(text), None),)
    return tuple((_sentence(p.text), p.applies_when) for p in text)


def _text_of(text: _Text, facts: FactSet | None) -> str:
    """:func:`text_for` of a prepared text."""
    return " ".join(sentence for sentence, when in text if facts is None or not ruled_out(when, facts))


def text_for(text: str | Sequence[TextPart], facts: FactSet | None) -> str:
    """A category text for one program: the parts its facts do not rule out, as sentences."""
    return _text_of(_prepared(text), facts)


def _mitigation(finding: FindingResult, mitigation: str) -> str:
    """The mitigation of one risk (``mitigation``: its category's mitigation text for the program)."""
    text = f"{mitigation} For the specific action, see the finding of the same title."
    waiver = finding.waiver
    if finding.status == "waived" and waiver is not None:
        text += (
            f" Risk accepted under a waiver approved by {waiver.approved_by} on {display.human_date(waiver.approved_on)},"
            f" expiring {display.human_date(waiver.expires)}: {_sentence(waiver.justification)}"
        )
    return text


def _risk(
    number: int,
    finding: FindingResult,
    cid: str,
    category: RiskCategory,
    scores: tuple[int, int],
    texts: tuple[str, str, str],
    excluded: AbstractSet[str],
) -> Risk:
    """Risk R-``number`` for a registered finding (``texts``: its category's effect, mitigation, trigger for the program)."""
    likelihood, impact = scores
    score = likelihood * impact
    waived = finding.status == "waived"
    cited = dict.fromkeys([*(c.id for c in finding.citations), *category.citations])
    effect, mitigation, trigger = texts
    return Risk(
        id=f"R-{number:03d}",
        title=finding.title + (WAIVED_MARK if waived else ""),
        category=cid,
        cause=" ".join(part for part in (_sentence(finding.title), _sentence(finding.detail)) if part),
        effect=effect,
        likelihood=likelihood,
        impact=impact,
        score=score,
        level=risk_level(score),
        mitigation=_mitigation(finding, mitigation),
        owner=category.owner,
        trigger=trigger,
        rules=[finding.rule],
        topics=list(finding.topics),
        status="waived" if waived else "open",
        finding=finding.id,
        citations=[c for c in cited if c not in excluded],
    )


def build_risks(
    findings: Sequence[FindingResult],
    categories: RiskCategories,
    facts: FactSet | None = None,
    excluded: AbstractSet[str] = frozenset(),
) -> list[Risk]:
    """One risk per registered finding, sorted by (-score, category, rule, finding id), ids R-001....

    With ``facts``, category texts keep only the parts the program's facts do not rule out;
    ``excluded`` citations (see :func:`cmcadvisor.outcomes.excluded_citations`) are left out.
    """
    entries: list[tuple[tuple[int, str, str, str], FindingResult, str, tuple[int, int]]] = []
    for finding in findings:
        if not is_registered(finding, categories):
            continue
        cid = category_of(finding, categories)
        likelihood, impact = score_of(finding, categories)
        entries.append(((-likelihood * impact, cid, finding.rule, finding.id), finding, cid, (likelihood, impact)))
    entries.sort(key=lambda entry: entry[0])  # numbered in register order, so each risk is built once with its id
    texts: dict[str, tuple[str, str, str]] = {}  # per category, its texts for this program
    risks: list[Risk] = []
    for number, (_, finding, cid, scores) in enumerate(entries, 1):
        if cid not in texts:
            effect, mitigation, trigger = categories._texts[cid]
            texts[cid] = (_text_of(effect, facts), _text_of(mitigation, facts), _text_of(trigger, facts))
        risks.append(_risk(number, finding, cid, categories.categories[cid], scores, texts[cid], excluded))
    return risks
