"""The timeline as a Gantt chart (PNG or SVG), drawn with matplotlib: its only home.

Activities on the printed critical path are red (and only those), work in progress amber, planned
work blue; a late long-lead item is hatched and says how far it moves the BLA submission; labels
come from the display vocabulary and stay distinct when shortened; milestones are
diamonds at their forecast with a hollow marker at their target when they differ, and the
as-of date is a dashed line. Output is deterministic: no timestamps or random ids are embedded.
"""

from __future__ import annotations

import datetime
import io
import warnings

from cmcadvisor import display
from cmcadvisor.models.result import AssessmentResult


def gantt(
    result: AssessmentResult,
    fmt: str,
    *,
    span: tuple[datetime.date, datetime.date] | None = None,
    title: str | None = None,
) -> bytes:
    """Render the chart as ``png`` or ``svg`` bytes.

    ``span`` (first and last date) fixes the time axis and the plot's left edge, so that several
    charts (one per scenario) line up on one shared axis; ``title`` replaces the program's name.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "cmcadvisor"
    matplotlib.rcParams["font.size"] = 9
    timeline = result.timeline
    rows = [a for a in timeline.activities if a.start and a.finish and a.status != "complete" and a.id != "bla_submission"]
    milestones = [m for m in timeline.milestones if m.forecast and m.status != "achieved"]
    names = [display.term(m.id) for m in milestones]
    on_path = set(timeline.critical_path)
    items = {i.id: i for i in timeline.late_items}
    # A late long-lead item is labelled by the item itself ("Controlled-rate freezer"), not by the kind of activity.
    bars = [a.name.split(": ", 1)[-1] if a.id in items else a.name for a in rows]
    labels = display.short_labels(bars + [n[:1].upper() + n[1:] for n in names], 48)
    height = max(3.0, 0.32 * len(labels) + 1.4)
    fig, ax = plt.subplots(figsize=(11, height), dpi=110)
    origin = datetime.date.fromisoformat(result.as_of)

    def day(text: str) -> datetime.date:
        return datetime.date.fromisoformat(text)

    def x(value: datetime.date) -> float:
        return float((value - origin).days)

    for y, a in enumerate(rows):
        start, finish = day(a.start or ""), day(a.finish or "")
        colour = "#c62828" if a.id in on_path else "#ef8f00" if a.status == "in_progress" else "#3f6fb5"
        width = max((finish - start).days, 1)
        item = items.get(a.id)
        hatch = "////" if item is not None else None
        ax.barh(y, width, left=x(start), height=0.6, color=colour, edgecolor="black", linewidth=0.4, hatch=hatch)
        notes = [f"late by {display.quantity(a.late_by_days, 'days')}"] if a.late_by_days else []
        if item is not None and item.bla_delay_days:
            notes.append(f"moves the BLA by {display.quantity(item.bla_delay_days, 'days')}")
        if notes:
            ax.text(x(finish) + 25, y, "; ".join(notes), va="center", color="#c62828", fontsize=8)
    base = len(rows)
    for offset, m in enumerate(milestones):
        y = base + offset
        forecast = x(day(m.forecast or ""))
        ax.plot([forecast], [y], marker="D", color="#c62828" if m.late_by_days else "#2e7d32", markersize=7)
        if m.target and m.target != m.forecast:
            ax.plot([x(day(m.target))], [y], marker="D", markerfacecolor="none", color="grey", markersize=7)
        if m.late_by_days:
            ax.text(
                forecast + 25, y, f"late by {display.quantity(m.late_by_days, 'days')}", va="center", color="#c62828", fontsize=8
            )
    ax.axvline(x(day(result.as_of)), color="grey", linestyle="--", linewidth=0.8)
    ax.set_yticks(range(len(labels)), labels=labels)
    ax.invert_yaxis()
    dates = [day(a.start or "") for a in rows] + [day(a.finish or "") for a in rows] + [day(m.forecast or "") for m in milestones]
    last = max(dates, default=origin)
    first = origin
    if span is not None:
        first, last = min(span[0], origin), max(span[1], last)
    step = 3 if (last - first).days <= 3 * 365 else 6
    ticks: list[datetime.date] = []
    tick = datetime.date(first.year, 1, 1)
    while tick <= last:
        if tick >= first:
            ticks.append(tick)
        month = tick.month - 1 + step
        tick = datetime.date(tick.year + month // 12, month % 12 + 1, 1)
    ax.set_xticks([x(t) for t in ticks], labels=[t.strftime("%Y-%m") for t in ticks])
    ax.set_xlim(x(first) - 20, x(last) + 120)
    ax.grid(axis="x", color="#dddddd", linewidth=0.5)
    ax.set_axisbelow(True)
    name = display.shorten(title or result.program.name, 70)
    fig.suptitle(f"CMC timeline: {name}", fontsize=11, x=0.02, ha="left")
    ax.set_title(
        f"As of {display.human_date(result.as_of)} (dashed line). "
        "Bars: red on the critical path, amber in progress, blue planned; hatched: a late long-lead item.\n"
        "Diamonds: milestone forecast, green on time, red late (hollow: the target date).",
        fontsize=8,
        loc="left",
    )
    if span is not None:  # the plot area is narrower: the key on three lines
        ax.set_title(ax.get_title(loc="left").replace("; hatched", ";\nhatched"), fontsize=8, loc="left")
    fig.autofmt_xdate()
    buffer = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    with warnings.catch_warnings():
        # A name may hold a character the chart's font lacks: it is drawn as an empty box, and
        # matplotlib's warning (a Python warning with its own file paths) is not for the reader.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
        fig.tight_layout()
        if span is not None:  # the same plot area in every chart of a comparison
            fig.subplots_adjust(left=0.34, right=0.97)
        fig.savefig(buffer, format=fmt, metadata=metadata)
    plt.close(fig)
    return buffer.getvalue()
