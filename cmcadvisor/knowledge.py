"""The knowledge base: citations and pathways, indexed, cross-checked and hashed.

Loads ``knowledge/*.yaml`` (built-in, or an organisation's ``--knowledge-dir``), validates it
and refuses dangling references inside the knowledge base. It also says which files an
assessment with that folder reads (:func:`knowledge_files`): the folder's own files plus the
built-in files it falls back on (:data:`FALLBACKS`), each with its hash, and one hash over them
all (``KnowledgeBase.sha256``), so the audit record covers exactly the knowledge in use. It must
not know about rules (rule-to-knowledge references are checked by :func:`cmcadvisor.api.check_references`
and :mod:`rulelint`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from pathlib import Path

from cmcadvisor.conditions import Lit, literals, to_nnf
from cmcadvisor.errors import ErrorItem, KnowledgeError, UserInputError
from cmcadvisor.facts import vocabulary
from cmcadvisor.loader import data_dir, files_under, read_bytes
from cmcadvisor.models.knowledge import (
    MILESTONE_IDS,
    ActivitiesFile,
    Activity,
    Citation,
    CitationsFile,
    ConfidenceBand,
    DisplayFile,
    MakeOrBuyConfig,
    MilestoneInfo,
    Pathway,
    PathwaysFile,
    ReviewClock,
)
from cmcadvisor.models.rule import PATHWAY_IDS, Condition
from cmcadvisor.validation import load_model

# Files an organisation's knowledge folder may leave out. Without the first, the loaders read the
# built-in files named here instead (the built-in vocabulary; the built-in meeting knowledge with
# its CTD sections and the citations they rest on; the built-in risk categories).
FALLBACKS: dict[str, tuple[str, ...]] = {
    "display.yaml": ("display.yaml",),
    "meetings.yaml": ("meetings.yaml", "ctd_sections.yaml", "citations.yaml", "citations-*.yaml"),
    "risk_categories.yaml": ("risk_categories.yaml",),
}


@dataclass(frozen=True)
class SourceFile:
    """One file an assessment reads (knowledge or templates): its name, where it came from, its hash."""

    name: str  # its path inside the folder it came from, e.g. ``meetings.yaml``
    shown: str  # how the audit names it: ``knowledge/meetings.yaml`` when built in, else its path
    builtin: bool
    sha256: str

    def label(self, builtin_prefix: str) -> str:
        """Its label in the combined hash: its name, or ``<prefix>/<name>`` for a built-in fallback."""
        return f"{builtin_prefix}/{self.name}" if self.builtin and builtin_prefix else self.name


def source_file(folder: Path, path: Path, shown_prefix: str | None, builtin: bool) -> SourceFile:
    """Describe one file of ``folder`` (``shown_prefix``: how to name the folder; None: its own path)."""
    name = path.relative_to(folder).as_posix()
    shown = f"{shown_prefix}/{name}" if shown_prefix else str(path)
    return SourceFile(name, shown, builtin, hashlib.sha256(read_bytes(path)).hexdigest())


def combined_sha256(files: Sequence[SourceFile], builtin_prefix: str = "") -> str:
    """One hash over files, by label and content hash, in label order."""
    digest = hashlib.sha256()
    for label, entry in sorted((f.label(builtin_prefix), f) for f in files):
        digest.update(label.encode())
        digest.update(b"\0")
        digest.update(bytes.fromhex(entry.sha256))
        digest.update(b"\0")
    return digest.hexdigest()


def knowledge_files(root: Path | None = None) -> tuple[SourceFile, ...]:
    """Every knowledge file an assessment with this folder reads, built-in fallbacks included, by name shown."""
    builtin = data_dir("knowledge")
    folder = root or builtin
    own = files_under(folder, "*.yaml")
    found = {f.shown: f for f in (source_file(folder, p, "knowledge" if root is None else None, root is None) for p in own)}
    if root is not None:
        names = {p.relative_to(folder).as_posix() for p in own}
        for key, patterns in FALLBACKS.items():
            if key in names:
                continue
            for pattern in patterns:
                for path in sorted(builtin.glob(pattern)):
                    entry = source_file(builtin, path, "knowledge", True)
                    found.setdefault(entry.shown, entry)
    return tuple(found[key] for key in sorted(found))


@dataclass(frozen=True)
class KnowledgeBase:
    """Citations and pathways by id, plus the files they came from and one hash over them.

    ``files`` are every file an assessment with this knowledge reads (the loaders of meetings and
    risk categories fall back on built-in files, see :data:`FALLBACKS`); ``sha256`` covers them.
    """

    citations: dict[str, Citation]
    citation_sources: dict[str, str]
    pathways: dict[str, Pathway]
    make_or_buy: MakeOrBuyConfig
    activities: dict[str, Activity]
    review: ReviewClock
    sha256: str
    root: str
    display: DisplayFile | None = None  # knowledge/display.yaml; None: the built-in vocabulary applies
    files: tuple[SourceFile, ...] = ()
    milestones: dict[str, MilestoneInfo] = _field(default_factory=dict)  # knowledge/activities.yaml, in milestone order


def load_knowledge(root: Path | None = None) -> KnowledgeBase:
    """Load and cross-check a knowledge folder (the built-in one by default)."""
    folder = root or data_dir("knowledge")
    if not folder.is_dir():
        raise KnowledgeError.single(str(folder), "knowledge directory not found")
    shipped = root is None

    def display(path: Path) -> str:
        return f"knowledge/{path.relative_to(folder).as_posix()}" if shipped else str(path)

    def read(name: str) -> Path:
        path = folder / name
        if not path.is_file():
            raise KnowledgeError.single(display(path), "missing knowledge file")
        return path

    try:
        cites_path, paths_path = read("citations.yaml"), read("pathways.yaml")
        citation_files = [cites_path, *sorted(folder.glob("citations-*.yaml"))]
        loaded = [(path, load_model(path, CitationsFile, KnowledgeError, display=display(path))) for path in citation_files]
        pways = load_model(paths_path, PathwaysFile, KnowledgeError, display=display(paths_path))
        act_path = read("activities.yaml")
        activities_file = load_model(act_path, ActivitiesFile, KnowledgeError, display=display(act_path))
        mob_path = read("make_or_buy.yaml")
        make_or_buy = load_model(mob_path, MakeOrBuyConfig, KnowledgeError, display=display(mob_path))
        disp_path = folder / "display.yaml"
        display_vocab = (
            load_model(disp_path, DisplayFile, KnowledgeError, display=display(disp_path))
            if shipped or disp_path.is_file()
            else None
        )
        files = knowledge_files(root)
    except KnowledgeError:
        raise
    except UserInputError as exc:
        raise KnowledgeError(exc.items) from None
    problems: list[ErrorItem] = []
    citations: dict[str, Citation] = {}
    sources: dict[str, str] = {}
    for path, cites in loaded:
        shown = display(path)  # once per file, not per citation
        for index, citation in enumerate(cites.citations):
            if citation.id in citations:
                problems.append(ErrorItem(shown, None, f"citations[{index}].id", f"duplicate citation id {citation.id}"))
            citations[citation.id] = citation
            sources.setdefault(citation.id, shown)
    for path, cites in loaded:
        for index, citation in enumerate(cites.citations):
            if citation.superseded_by and citation.superseded_by not in citations:
                message = f"unknown citation {citation.superseded_by}"
                problems.append(ErrorItem(display(path), None, f"citations[{index}].superseded_by", message))
    pathways: dict[str, Pathway] = {}
    for index, pathway in enumerate(pways.pathways):
        where = f"pathways[{index}]"
        if pathway.id not in PATHWAY_IDS:
            problems.append(ErrorItem(display(paths_path), None, f"{where}.id", f"unknown pathway id {pathway.id}"))
        if pathway.id in pathways:
            problems.append(ErrorItem(display(paths_path), None, f"{where}.id", f"duplicate pathway id {pathway.id}"))
        pathways[pathway.id] = pathway
        timing_cites = pathway.timing.citations if pathway.timing else []
        problems.extend(
            ErrorItem(display(paths_path), None, f"{where}.{field}", f"unknown citation {cid}")
            for field, ids in (("citations", pathway.citations), ("timing.citations", timing_cites))
            for cid in ids
            if cid not in citations
        )
    activities = {a.id: a for a in activities_file.activities}
    for index, activity in enumerate(activities_file.activities):
        where = f"activities[{index}]"
        problems.extend(
            ErrorItem(display(act_path), None, f"{where}.depends_on", f"unknown activity {dep}")
            for dep in activity.depends_on
            if dep not in activities
        )
        problems.extend(
            ErrorItem(display(act_path), None, f"{where}.citations", f"unknown citation {cid}")
            for cid in activity.citations
            if cid not in citations
        )
        problems.extend(
            ErrorItem(display(act_path), None, f"{where}.needed_for.{strategy}", f"unknown activity or milestone {target}")
            for strategy, targets in activity.needed_for.items()
            for target in targets
            if target not in activities and target not in MILESTONE_IDS
        )
        problems.extend(
            ErrorItem(display(act_path), None, f"{where}.{field_name}", f"unknown fact {name}")
            for field_name, name in activity_facts(activity)
            if name not in vocabulary()
        )
    problems.extend(
        ErrorItem(display(act_path), None, "review.citations", f"unknown citation {cid}")
        for cid in activities_file.review.citations
        if cid not in citations
    )
    facts = vocabulary()
    problems.extend(
        ErrorItem(display(mob_path), None, f"evidence.{factor}", f"unknown fact {name}")
        for factor, names in make_or_buy.evidence.items()
        for name in names
        if name not in facts
    )
    problems.extend(
        ErrorItem(display(mob_path), None, where, message) for where, message in make_or_buy_example_problems(make_or_buy)
    )
    problems.extend(
        ErrorItem(display(paths_path), None, where, message) for where, message in review_clock_example_problems(pways.pathways)
    )
    if problems:
        raise KnowledgeError(problems)
    return KnowledgeBase(
        citations=dict(sorted(citations.items())),
        citation_sources=dict(sorted(sources.items())),
        pathways={pid: pathways[pid] for pid in PATHWAY_IDS if pid in pathways},
        make_or_buy=make_or_buy,
        activities=dict(sorted(activities.items())),
        review=activities_file.review,
        sha256=combined_sha256(files, "knowledge"),
        root="knowledge" if shipped else str(folder),
        display=display_vocab,
        files=files,
        milestones={m.id: m for m in sorted(activities_file.milestones, key=lambda m: MILESTONE_IDS.index(m.id))},
    )


def activity_facts(activity: Activity) -> list[tuple[str, str]]:
    """The program facts an activity's knowledge refers to, each with the field that names it."""
    conditions = (("complete_when", activity.complete_when), ("in_progress_when", activity.in_progress_when))
    found = [(f"{name}.fact", lit.fact) for name, condition in conditions for lit in _literals(condition)]
    if activity.duration_from is not None:
        found.append(("duration_from.fact", activity.duration_from.fact))
    if activity.needed_for_field is not None:
        found.append(("needed_for_field", activity.needed_for_field))
    if activity.per_item is not None:
        found.append(("per_item.collection", activity.per_item.collection))
    return found


def _literals(condition: Condition | None) -> list[Lit]:
    return [] if condition is None else literals(to_nnf(condition))


# ---------------------------------------------------------------- policy held as data
# The arithmetic that turns knowledge settings into decisions, kept next to the loader so that
# a knowledge folder's worked examples are checked when it is loaded (and by the tests).


def capped_vote(net: int, config: MakeOrBuyConfig) -> int:
    """A consideration's net vote, capped at ``vote_cap`` either way."""
    return max(-config.vote_cap, min(config.vote_cap, net))


def factor_score(net: int, config: MakeOrBuyConfig) -> float:
    """A consideration's net vote scaled to -1 (CDMO) .. +1 (in-house)."""
    return capped_vote(net, config) / config.vote_cap


def recommend(score: float, known: int, config: MakeOrBuyConfig) -> str:
    """in_house, cdmo, hybrid, or undetermined when too few considerations are judged."""
    thresholds = config.thresholds
    if known < thresholds.min_known_factors:
        return "undetermined"
    return "in_house" if score > thresholds.decide else "cdmo" if score < -thresholds.decide else "hybrid"


def confidence_band(score: float, known: int, recommendation: str, config: MakeOrBuyConfig) -> ConfidenceBand | None:
    """The first confidence band the score and count meet (None: low confidence)."""
    if recommendation == "undetermined":
        return None
    margin = abs(score)
    return next((b for b in config.confidence if known >= b.min_known_factors and margin >= b.min_margin), None)


def make_or_buy_example_problems(config: MakeOrBuyConfig) -> list[tuple[str, str]]:
    """Each worked example of make_or_buy.yaml that the policy does not give: (where, message)."""
    problems: list[tuple[str, str]] = []
    for index, example in enumerate(config.examples):
        where, expect = f"examples[{index}]", example.expect
        if expect.factor_score is not None:
            got = factor_score(sum(example.votes), config)
            if abs(got - expect.factor_score) > 5e-5:  # examples give scores to four places
                problems.append(
                    (where, f"{example.name}: votes {example.votes} give a score of {got:.4g}, not {expect.factor_score}")
                )
        if expect.recommendation is None and expect.confidence is None:
            continue
        if example.score is None or example.known_factors is None:
            problems.append((where, f"{example.name}: a recommendation example needs score and known_factors"))
            continue
        recommendation = recommend(example.score, example.known_factors, config)
        band = confidence_band(example.score, example.known_factors, recommendation, config)
        confidence = band.confidence if band else "low"
        for name, want, got_text in (
            ("recommendation", expect.recommendation, recommendation),
            ("confidence", expect.confidence, confidence),
        ):
            if want is not None and want != got_text:
                problems.append((where, f"{example.name}: gives {name} {got_text}, not {want}"))
    return problems


@dataclass(frozen=True)
class ClockChoice:
    """The BLA review clock the timeline plans with, and why."""

    clock: str  # standard | priority
    pathway: str | None  # the pathway whose status chose it (None: the program's own choice, or the default)
    status: str | None
    basis: str


def review_clock(kb: KnowledgeBase, program_review: str | None, statuses: Mapping[str, str]) -> ClockChoice:
    """The program file's ``timeline.review`` when given, else the first pathway whose status calls for its clock."""
    return _choose_clock(kb.pathways.values(), program_review, statuses)


def _choose_clock(pathways: Iterable[Pathway], program_review: str | None, statuses: Mapping[str, str]) -> ClockChoice:
    if program_review is not None:
        return ClockChoice(program_review, None, None, "The program file sets the review clock (timeline.review).")
    for pathway in pathways:
        choice = pathway.review_clock
        status = statuses.get(pathway.id)
        if choice is not None and status in choice.statuses:
            return ClockChoice(choice.clock, pathway.id, status, choice.basis)
    return ClockChoice("standard", None, None, "No pathway status calls for a shorter clock; the standard review clock applies.")


def review_clock_example_problems(pathways: Sequence[Pathway]) -> list[tuple[str, str]]:
    """Each worked example of a pathway's review_clock that the choice does not give: (where, message)."""
    problems: list[tuple[str, str]] = []
    for index, pathway in enumerate(pathways):
        choice = pathway.review_clock
        if choice is None:
            continue
        for number, example in enumerate(choice.examples):
            got = _choose_clock([pathway], example.review, {pathway.id: example.status}).clock
            if got != example.expect:
                where = f"pathways[{index}].review_clock.examples[{number}]"
                problems.append(
                    (where, f"status {example.status} with review {example.review} gives {got}, not {example.expect}")
                )
    return problems
