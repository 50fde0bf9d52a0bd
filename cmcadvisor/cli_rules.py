"""The ``rules`` commands of the command line: list, show, facts, docs, lint and test the rule pack.

Registered on the top command by :mod:`cmcadvisor.cli`; like it, these commands only parse
options, call the rule tooling and map errors to exit codes (see :mod:`cmcadvisor.cliutil`).
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cmcadvisor import cliutil
from cmcadvisor.cliutil import EXIT_FINDINGS, EXIT_USAGE, user_errors
from cmcadvisor.errors import UserInputError

if TYPE_CHECKING:
    from cmcadvisor import api
else:  # loaded at first use, as in cmcadvisor.cli
    api = cliutil.lazy_import("cmcadvisor.api")


def _context(ctx: click.Context) -> api.Context:
    return api.load_context(cliutil.make_options(ctx))


@click.group()
def rules() -> None:
    """List, show, lint and test the rule pack."""


@rules.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--all", "show_all", is_flag=True, help="Include draft and deprecated rules.")
@click.pass_context
def rules_list(ctx: click.Context, fmt: str, show_all: bool) -> None:
    """List the rules (active ones unless --all)."""
    with user_errors(ctx.find_root().params["debug"]):
        pack = _context(ctx).pack
        chosen = pack.rules if show_all else pack.active
        rows = [
            {
                "id": r.id,
                "title": r.spec.title,
                "kind": r.spec.kind,
                "severity": r.spec.severity,
                "topics": list(r.spec.topics),
                "status": r.spec.status,
                "version": r.spec.version,
                "confidence": r.spec.confidence,
                "citations": list(r.spec.citations),
            }
            for r in chosen
        ]
        if fmt == "json":
            import json

            click.echo(json.dumps(rows, indent=2))
            return
        for row in rows:
            click.echo(f"{row['id']:<14} {row['kind']:<14} {row['severity']:<8} {row['title']}")
        click.echo(f"{len(rows)} rules")


@rules.command("show")
@click.argument("rule_id", shell_complete=cliutil.complete_rule_ids)
@click.pass_context
def rules_show(ctx: click.Context, rule_id: str) -> None:
    """Show one rule: metadata, condition, citations and examples."""
    from cmcadvisor.loader import dump_yaml

    with user_errors(ctx.find_root().params["debug"]):
        context = _context(ctx)
        rule = context.pack.resolve(rule_id)
        if rule is None:
            raise UserInputError.single("rules", f"no rule {rule_id}")
        click.echo(f"# {rule.id}: {rule.spec.title}\n# file: {rule.source}")
        click.echo(dump_yaml(rule.spec.model_dump(mode="json", by_alias=True, exclude_none=True)), nl=False)
        click.echo("# citations")
        for cid in rule.spec.citations:
            c = context.kb.citations[cid]
            click.echo(f"#   {c.id}: {c.title} ({c.issuer}, {c.year}; {c.status}; {c.confidence})")


@rules.command("facts")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def rules_facts(fmt: str) -> None:
    """List the fact vocabulary rules may test: names, types, allowed values."""
    from cmcadvisor.facts import vocabulary

    vocab = vocabulary()
    if fmt == "json":
        rows = [
            {
                "name": i.name,
                "type": i.type,
                "allowed": list(i.allowed),
                "question": i.question,
                "computed_from": list(i.computed_from),
            }
            for i in vocab.values()
        ]
        import json

        click.echo(json.dumps(rows, indent=2))
        return
    for info in vocab.values():
        allowed = f" [{', '.join(info.allowed)}]" if info.allowed else ""
        click.echo(f"{info.name:<58} {info.type:<10}{allowed}")


@rules.command("docs")
@click.option(
    "--output", "-o", "folder", type=click.Path(path_type=Path, file_okay=False), default=Path("docs/rules"), show_default=True
)
@click.option("--check", is_flag=True, help="Do not write: exit 1 if the folder is not up to date.")
@click.pass_context
def rules_docs(ctx: click.Context, folder: Path, check: bool) -> None:
    """Generate one Markdown page per rule, plus an index.

    Only files listed in the folder's manifest (written by an earlier run) are ever removed; a
    folder holding other files and no manifest is refused.
    """
    from cmcadvisor.render.rule_docs import rule_pages
    from cmcadvisor.writer import generated_changes, write_generated

    with user_errors(ctx.find_root().params["debug"]):
        context = _context(ctx)
        pages = rule_pages(context.pack, context.kb)
        if check:
            stale, extra = generated_changes(folder, pages)
            for name in stale + extra:
                click.echo(f"out of date: {folder / name}", err=True)
            click.echo(f"{len(pages)} pages, {len(stale) + len(extra)} out of date")
            if stale or extra:
                sys.exit(EXIT_FINDINGS)
            return
        written, removed = write_generated(folder, pages)
    gone = f"; removed {removed} it had written before" if removed else ""
    click.echo(f"wrote {written} of {len(pages)} pages to {folder}{gone}")


@rules.command("lint")
@click.option(
    "--as-of", callback=cliutil.parse_date, default=None, help="Judge source ages as of this date YYYY-MM-DD (default today)."
)
@click.pass_context
def rules_lint(ctx: click.Context, as_of: datetime.date | None) -> None:
    """Check every rule and knowledge cross-reference; exit 2 on any error."""
    from cmcadvisor.engine import AutoEngine, compile_problems, get_engine
    from cmcadvisor.rulelint import LintIssue, lint

    with user_errors(ctx.find_root().params["debug"]):
        context = _context(ctx)
        data = [
            *context.meeting_types.types.values(),
            *context.meeting_types.ctd.values(),
            *context.risk_categories.categories.values(),
        ]
        also = frozenset(c for item in data for c in getattr(item, "citations", ()))
        also |= frozenset(context.meeting_types.ctd_citations)
        issues = lint(
            context.pack,
            context.kb,
            today=as_of or datetime.date.today(),
            also_cited=also,
            risk_categories=context.risk_categories.config,
            risk_source=context.risk_categories.source,
        )
        from cmcadvisor.timeline import hook_cycles

        for rule_id, cycle in hook_cycles(context.pack, context.kb):
            issues.append(
                LintIssue("error", context.pack.by_id[rule_id].source, "then.before", f"timeline hooks make a cycle: {cycle}")
            )
        if isinstance(get_engine("auto"), AutoEngine):  # durable-rules is available
            for rule_id, problem in compile_problems([r.compiled for r in context.pack.active]):
                source = context.pack.by_id[rule_id].source
                issues.append(
                    LintIssue("error", source, "when", f"durable-rules cannot compile this condition ({problem}); simplify it")
                )
    errors = [i for i in issues if i.level == "error"]
    for issue in issues:
        click.echo(issue.format(), err=issue.level == "error")
    click.echo(
        f"{len(context.pack.rules)} rules, {len(context.kb.citations)} citations: "
        f"{len(errors)} errors, {len(issues) - len(errors)} warnings"
    )
    if errors:
        sys.exit(EXIT_USAGE)


@rules.command("test")
@click.option(
    "--engine",
    "engines",
    type=click.Choice(["durable", "python"]),
    multiple=True,
    help="Engines to run (default: both where available).",
)
@click.pass_context
def rules_test(ctx: click.Context, engines: tuple[str, ...]) -> None:
    """Run every rule's examples on both engines; exit 1 if any fails."""
    from cmcadvisor.engine import get_engine
    from cmcadvisor.testing import run_all_examples

    with user_errors(ctx.find_root().params["debug"]):
        context = _context(ctx)
        chosen = [get_engine(name) for name in (engines or ("durable", "python"))]
        results = [r for engine in chosen for r in run_all_examples(context.pack, engine)]
        policy_count, policy_problems = _policy_examples(context)
    failures = [r for r in results if not r.passed]
    for r in failures:
        click.echo(f"FAIL {r.rule} :: {r.example} [{r.engine}]: expected {r.expect}, got {r.got}", err=True)
    for where, problem in policy_problems:
        click.echo(f"FAIL {where}: {problem}", err=True)
    click.echo(f"{len(results) - len(failures)} passed, {len(failures)} failed")
    click.echo(
        f"policy examples (meeting fit, make-or-buy, review clock): {policy_count - len(policy_problems)} passed, "
        f"{len(policy_problems)} failed"
    )
    if failures or policy_problems:
        sys.exit(EXIT_FINDINGS)


def _policy_examples(context: api.Context) -> tuple[int, list[tuple[str, str]]]:
    """The worked examples of the policy kept as data: meeting fit, make-or-buy bands, review clock."""
    from cmcadvisor.knowledge import make_or_buy_example_problems, review_clock_example_problems
    from cmcadvisor.meetings.fit import example_problems

    count, problems = example_problems(context.meeting_types)
    kb = context.kb
    count += len(kb.make_or_buy.examples) + sum(len(p.review_clock.examples) for p in kb.pathways.values() if p.review_clock)
    problems += [(f"make_or_buy.yaml {where}", what) for where, what in make_or_buy_example_problems(kb.make_or_buy)]
    problems += [(f"pathways.yaml {where}", what) for where, what in review_clock_example_problems(list(kb.pathways.values()))]
    return count, problems
