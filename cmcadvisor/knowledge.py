"""The knowledge base: citations and pathways, indexed, cross-checked and hashed.

Loads ``knowledge/*.yaml`` (built-in, or an organisation's ``--knowledge-dir``), validates it,
refuses dangling references inside the knowledge base and computes its content hash. It must
not know about rules (rule-to-knowledge references are checked by :mod:`rulelint`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cmcadvisor.errors import ErrorItem, KnowledgeError, UserInputError
from cmcadvisor.facts import vocabulary
from cmcadvisor.loader import data_dir, files_under, sha256_files
from cmcadvisor.models.knowledge import (
    ActivitiesFile,
    Activity,
    Citation,
    CitationsFile,
    DisplayFile,
    MakeOrBuyConfig,
    Pathway,
    PathwaysFile,
    ReviewClock,
)
from cmcadvisor.models.rule import PATHWAY_IDS
from cmcadvisor.validation import load_model


@dataclass(frozen=True)
class KnowledgeBase:
    """Citations and pathways by id, plus the content hash of the files they came from."""

    citations: dict[str, Citation]
    citation_sources: dict[str, str]
    pathways: dict[str, Pathway]
    make_or_buy: MakeOrBuyConfig
    activities: dict[str, Activity]
    review: ReviewClock
    sha256: str
    root: str
    display: DisplayFile | None = None  # knowledge/display.yaml; None: the built-in vocabulary applies


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
        files = files_under(folder, "*.yaml")
    except KnowledgeError:
        raise
    except UserInputError as exc:
        raise KnowledgeError(exc.items) from None
    problems: list[ErrorItem] = []
    citations: dict[str, Citation] = {}
    sources: dict[str, str] = {}
    for path, cites in loaded:
        for index, citation in enumerate(cites.citations):
            if citation.id in citations:
                problems.append(ErrorItem(display(path), None, f"citations[{index}].id", f"duplicate citation id {citation.id}"))
            citations[citation.id] = citation
            sources.setdefault(citation.id, display(path))
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
    if problems:
        raise KnowledgeError(problems)
    return KnowledgeBase(
        citations=dict(sorted(citations.items())),
        citation_sources=dict(sorted(sources.items())),
        pathways={pid: pathways[pid] for pid in PATHWAY_IDS if pid in pathways},
        make_or_buy=make_or_buy,
        activities=dict(sorted(activities.items())),
        review=activities_file.review,
        sha256=sha256_files(folder, files),
        root="knowledge" if shipped else str(folder),
        display=display_vocab,
    )
