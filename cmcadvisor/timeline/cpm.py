"""The critical path method over a DAG of activities: forward and backward passes, slack, the driving chain.

Nodes carry ``duration`` (days) and optionally ``not_before`` (start no earlier than, an ordinal
date), ``fixed`` (already happened on that date), ``due`` (finish no later than: negative slack)
and ``done`` (complete work: never on the critical path); edges carry ``lag`` (days). A graph
given to :func:`schedule` is read once, from its raw adjacency (``DiGraph.adjacency()`` and
``nodes(data=True)``, no per-node views), into plain lists; the passes, the topological order
(Kahn's algorithm, first in first out: no heap) and every chain run over those lists, so the
cost is linear in nodes plus edges. :func:`schedule_rows` takes the lists alone, so the timeline
schedules a plan without making a graph, and networkx is imported only where a graph is read or
a cycle reported. This module knows nothing of rules, programs or rendering.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

Links = dict[str, list[tuple[str, int]]]  # node -> (neighbour, lag) pairs
# What the passes read of one node: id, fixed date, start no earlier than, duration, finish no later
# than, its predecessors (with lags), whether it is complete work, whether it is a milestone.
Row = tuple[str, int | None, int | None, int, int | None, list[tuple[str, int]], bool, bool]


@dataclass(frozen=True)
class Schedule:
    """Earliest and latest start and finish (ordinal days) and slack of every node.

    Slack is measured against the end of the plan (or against ``terminal``'s forecast when one
    is given); it is negative only where a node's ``due`` date cannot be met. The critical path
    is the chain of least slack that drives the terminal (or the latest node).
    """

    es: dict[str, int]
    ef: dict[str, int]
    ls: dict[str, int]
    lf: dict[str, int]
    critical_path: list[str]
    order: tuple[str, ...] = ()  # a topological order (not necessarily the lexicographic one)
    incoming: Links = field(default_factory=dict)  # node -> (predecessor, lag): for what-if forward passes
    outgoing: Links = field(default_factory=dict)  # node -> (successor, lag)
    rows: tuple[Row, ...] = ()  # the nodes as the forward pass reads them, in ``order``

    def slack(self, node: str) -> int:
        """Latest minus earliest start."""
        return self.ls[node] - self.es[node]

    def what_if(self, start: int, durations: Mapping[str, int]) -> dict[str, int]:
        """Earliest starts with some durations replaced, without reading the graph again."""
        return _forward_rows(self.rows, start, durations)[0]

    def earlier_if_done(self, start: int, node: str) -> dict[str, int]:
        """The nodes whose earliest start changes when ``node`` takes no time: each one's earliest start then, in ``order``.

        The same values as ``what_if(start, {node: 0})`` where they differ from ``es``, found
        without a whole forward pass: a node is recomputed only when a predecessor's finish
        changed in a way that can move it (the old finish set its start, or the new one passes
        it), in topological order (a heap of positions in ``order``).
        """
        es, ef, outgoing = self.es, self.ef, self.outgoing
        if ef[node] == es[node]:
            return {}  # it takes no time already (or it is a date that already happened)
        position, rows = self._position, self.rows
        new_finish = es[node]  # its own start stays: its predecessors do not move
        changed_ef = {node: new_finish}
        waiting = [(position[s], s) for s, lag in outgoing[node] if ef[node] + lag == es[s] or new_finish + lag > es[s]]
        heapq.heapify(waiting)
        seen: set[str] = set()
        found: dict[str, int] = {}
        while waiting:
            other = heapq.heappop(waiting)[1]
            if other in seen:
                continue
            seen.add(other)
            _, fixed, not_before, duration, _, preds, _, _ = rows[position[other]]
            if fixed is not None:
                continue
            earliest = start if not_before is None or not_before < start else not_before
            for p, lag in preds:
                ready = changed_ef.get(p, ef[p]) + lag
                if ready > earliest:
                    earliest = ready
            if earliest != es[other]:
                found[other] = earliest
                new_finish = changed_ef[other] = earliest + duration
                for s, lag in outgoing[other]:
                    if ef[other] + lag == es[s] or new_finish + lag > es[s]:
                        heapq.heappush(waiting, (position[s], s))
        return found

    @functools.cached_property
    def _position(self) -> dict[str, int]:
        """Each node's index in ``order`` (and in ``rows``)."""
        return {node: index for index, node in enumerate(self.order)}

    def ordered(self, key: Callable[[str], Any]) -> list[str]:
        """The nodes in topological order, the smallest ``key`` first (as :func:`topological`)."""
        return _lexicographic(self.incoming, self.outgoing, key)

    def by_start(self) -> list[str]:
        """``ordered(lambda n: (es[n], n))``: the earliest start first, then by id (keys made without a call per node)."""
        es = self.es
        return _in_key_order(self.incoming, self.outgoing, {node: (es[node], node) for node in self.incoming})


def links(graph: nx.DiGraph[str]) -> tuple[Links, Links]:
    """Predecessor and successor lists with lags, read from the graph's raw adjacency once."""
    incoming: Links = {node: [] for node in graph}
    outgoing: Links = {}
    for node, successors in graph.adjacency():
        pairs = [(s, int(edge.get("lag", 0))) for s, edge in successors.items()]
        outgoing[node] = pairs
        for s, lag in pairs:
            incoming[s].append((node, lag))
    return incoming, outgoing


def topological(graph: nx.DiGraph[str], key: Callable[[str], Any] = str) -> list[str]:
    """The nodes in topological order, the smallest ``key`` first among those ready.

    The same order as ``nx.lexicographical_topological_sort`` (Kahn's algorithm over a heap,
    ties broken by insertion order), read straight from the graph's adjacency. Raises
    ``nx.NetworkXUnfeasible`` on a cycle, as networkx does.
    """
    return _lexicographic(*links(graph), key)


def _lexicographic(incoming: Links, outgoing: Links, key: Callable[[str], Any]) -> list[str]:
    return _in_key_order(incoming, outgoing, {node: key(node) for node in incoming})


def _in_key_order(incoming: Links, outgoing: Links, keys: Mapping[str, Any]) -> list[str]:
    if _keys_increase(incoming, keys):
        # Every edge goes from a smaller key to a larger: the least key left is always ready, so the
        # order is the (stable: insertion order among equal keys) sort by key, no heap needed.
        return sorted(incoming, key=keys.__getitem__)
    position = {node: index for index, node in enumerate(incoming)}  # the graph's insertion order
    waiting = {node: len(preds) for node, preds in incoming.items() if preds}
    ready = [(keys[node], position[node], node) for node, preds in incoming.items() if not preds]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = heapq.heappop(ready)[2]
        order.append(node)
        for child, _ in outgoing[node]:
            waiting[child] -= 1
            if not waiting[child]:
                del waiting[child]
                heapq.heappush(ready, (keys[child], position[child], child))
    if waiting:
        raise _unfeasible()
    return order


def _keys_increase(incoming: Links, keys: Mapping[str, Any]) -> bool:
    """True when every edge goes from a smaller key to a larger (plain loops: cheaper than ``all()`` over a generator)."""
    for node, preds in incoming.items():
        key = keys[node]
        for p, _ in preds:
            if not keys[p] < key:
                return False
    return True


def _unfeasible() -> Exception:
    """The error networkx raises for a graph with a cycle (imported here: only a cycle needs networkx)."""
    import networkx as nx

    return nx.NetworkXUnfeasible("the activities depend on each other in a cycle")


def order_of(incoming: Links, outgoing: Links) -> list[str]:
    """A topological order (Kahn's algorithm, first in first out: linear, no heap); ``nx.NetworkXUnfeasible`` on a cycle.

    The passes need only some topological order: every result they give is the same in any.
    """
    order = order_or_none(incoming, outgoing)
    if order is None:
        raise _unfeasible()
    return order


def order_or_none(incoming: Links, outgoing: Links) -> list[str] | None:
    """:func:`order_of`, or None on a cycle (no exception: the caller names the cycle)."""
    waiting = {node: len(preds) for node, preds in incoming.items() if preds}
    order = [node for node, preds in incoming.items() if not preds]
    for node in order:  # the list grows while it is read: each node is appended once, when ready
        for child, _ in outgoing[node]:
            left = waiting[child] - 1
            if left:
                waiting[child] = left
            else:
                del waiting[child]
                order.append(child)
    return None if waiting else order


def _rows(graph: nx.DiGraph[str], order: Sequence[str], incoming: Links) -> list[Row]:
    """What the passes read of each node, in ``order``, read from the node data once."""
    return rows_of(dict(iter(graph.nodes(data=True))), order, incoming)  # (id, data) pairs: networkx's own dicts, not views


def rows_of(attrs: Mapping[str, Mapping[str, Any]], order: Sequence[str], incoming: Links) -> list[Row]:
    """What the passes read of each node, in ``order``, from its node data (the dicts a graph holds)."""
    rows: list[Row] = []
    for node in order:
        data = attrs[node]
        fixed, not_before, due = data.get("fixed"), data.get("not_before"), data.get("due")
        rows.append(
            (
                node,
                None if fixed is None else int(fixed),
                int(not_before) if not_before else None,
                int(data.get("duration", 0)),
                None if due is None else int(due),
                incoming[node],
                bool(data.get("done")),
                bool(data.get("milestone")),
            )
        )
    return rows


def earliest_starts(rows: Sequence[Row], start: int) -> dict[str, int]:
    """Earliest starts only (the forward pass) of rows in topological order."""
    return _forward_rows(rows, start, {})[0]


def _forward_rows(rows: Sequence[Row], start: int, durations: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Earliest start and finish of every node, rows in topological order; ``durations`` replace the nodes' own."""
    es: dict[str, int] = {}
    ef: dict[str, int] = {}
    for node, fixed, not_before, duration, _, preds, _, _ in rows:
        if fixed is not None:
            es[node] = ef[node] = fixed
            continue
        earliest = start if not_before is None or not_before < start else not_before
        for p, lag in preds:
            finish = ef[p] + lag
            if finish > earliest:
                earliest = finish
        es[node] = earliest
        ef[node] = earliest + (int(durations[node]) if node in durations else duration)
    return es, ef


def schedule(graph: nx.DiGraph[str], start: int, terminal: str | None = None, anchors: frozenset[str] = frozenset()) -> Schedule:
    """Forward and backward passes over a DAG; the critical path ends at ``terminal`` (default: the latest node).

    ``anchors`` are fixed dates that may start the critical path (a submitted BLA: its review clock).
    """
    incoming, outgoing = links(graph)  # read from the graph once; every pass uses the lists
    order = order_of(incoming, outgoing)
    return schedule_rows(_rows(graph, order, incoming), start, terminal, anchors, order, incoming, outgoing)


def schedule_rows(
    rows: Sequence[Row],
    start: int,
    terminal: str | None,
    anchors: frozenset[str],
    order: Sequence[str],
    incoming: Links,
    outgoing: Links,
) -> Schedule:
    """:func:`schedule` over a graph already read (or never made): its ``rows`` in the topological ``order``, its lists."""
    es, ef = _forward_rows(rows, start, {})
    end = max(ef.values(), default=start)
    ls: dict[str, int] = {}
    lf: dict[str, int] = {}
    for node, fixed, _, _, due, _, _, _ in reversed(rows):
        finish = ef[node]
        latest = finish if node == terminal else end
        for s, lag in outgoing[node]:
            begin = ls[s] - lag
            if begin < latest:
                latest = begin
        if due is not None and due < latest:
            latest = due
        if fixed is not None:
            latest = finish
        lf[node] = latest
        ls[node] = latest - (finish - es[node])
    if terminal is None:
        path = _least_slack_chain(incoming, es, ef, ls)
    else:
        path = chain_from_start(rows, terminal, start, es, ef, ls, anchors)
        if len(path) < 2:  # no chain from the as-of date, or the terminal alone: read the driving chain back
            complete = {row[0] for row in rows if row[6]}
            happened = {row[0] for row in rows if row[1] is not None}
            if not path:
                path = _driving_chain(incoming, complete, happened, terminal, es, ef, ls, True)
            if len(path) < 2:  # the terminal waits for its own target: the least-slack way into it
                path = _driving_chain(incoming, complete, happened, terminal, es, ef, ls, False)
    return Schedule(es, ef, ls, lf, path, tuple(order), incoming, outgoing, tuple(rows))


def chain_from_start(
    rows: Sequence[Row],
    terminal: str,
    start: int,
    es: Mapping[str, int],
    ef: Mapping[str, int],
    ls: Mapping[str, int],
    anchors: frozenset[str] = frozenset(),
) -> list[str]:
    """The least-slack chain of work from the as-of date to ``terminal`` (empty when there is none).

    A chain starts at an activity that starts on the as-of date (not a milestone waiting for its
    target, not complete work or a date that already happened) and follows edges to ``terminal``.
    Of all such chains the one whose largest slack is least is taken, then the one that drives
    each start, then the least total slack, then by id: one dynamic-programming pass over the
    ``rows`` in topological order (any), so linear in nodes plus edges.
    """
    # node -> (largest slack on its best chain, 0, total slack of that chain, node, its predecessor on it)
    best: dict[str, tuple[int, int, int, str, str | None]] = {}
    for node, fixed, _, _, _, preds, done, milestone in rows:
        if fixed is not None:  # a date that already happened: only an anchor starts a chain
            if node in anchors:
                best[node] = (0, 0, 0, node, None)
            continue
        if done:
            continue
        slack = ls[node] - es[node]
        begin = es[node]
        chosen: tuple[int, int, int, str] | None = None
        for p, lag in preds:
            entry = best.get(p)
            if entry is None:
                continue
            option = (entry[0] if entry[0] > slack else slack, 0 if ef[p] + lag == begin else 1, entry[2] + slack, p)
            if chosen is None or option < chosen:
                chosen = option
        if chosen is not None:
            best[node] = (chosen[0], 0, chosen[2], node, chosen[3])
        elif begin == start and not milestone:
            best[node] = (slack, 0, slack, node, None)
    if terminal not in best:
        return []
    path: list[str] = []
    current: str | None = terminal
    while current is not None:
        path.append(current)
        current = best[current][4]
    return list(reversed(path))


def driving_chain(
    graph: nx.DiGraph[str],
    node: str,
    es: Mapping[str, int],
    ef: Mapping[str, int],
    ls: Mapping[str, int],
    *,
    driving_only: bool = True,
) -> list[str]:
    """The chain that sets ``node``'s earliest start, back to the as-of date or a fixed date.

    At each step the predecessor whose finish (plus lag) sets the start is taken, the one of
    least slack first, then by id; complete work ends the chain, and a date that already
    happened is its first element. With ``driving_only`` off, the least-slack predecessor is
    taken even where a target date, not the predecessor, sets the start.
    """
    incoming, _ = links(graph)
    data = graph.nodes(data=True)
    done = {n for n, d in data if d.get("done")}
    fixed = {n for n, d in data if d.get("fixed") is not None}
    return _driving_chain(incoming, done, fixed, node, es, ef, ls, driving_only)


def _driving_chain(
    incoming: Links,
    done: Collection[str],
    fixed: Collection[str],
    node: str,
    es: Mapping[str, int],
    ef: Mapping[str, int],
    ls: Mapping[str, int],
    driving_only: bool,
) -> list[str]:
    """:func:`driving_chain` over the predecessor lists (``done``: complete work; ``fixed``: dates that already happened)."""
    path = [node]
    seen = {node}
    while True:
        current = path[-1]
        driving = [
            p
            for p, lag in incoming[current]
            if (not driving_only or ef[p] + lag == es[current]) and p not in seen and p not in done
        ]
        if not driving:
            break
        best = min(driving, key=lambda p: (ls[p] - es[p], p))
        path.append(best)
        seen.add(best)
        if best in fixed:
            break  # a date that already happened starts the chain
    return list(reversed(path))


def _least_slack_chain(incoming: Links, es: Mapping[str, int], ef: Mapping[str, int], ls: Mapping[str, int]) -> list[str]:
    """Without a terminal: the chain of least-slack nodes that drives the latest of them."""
    if not es:
        return []
    least = min(ls[n] - es[n] for n in es)
    last = min((n for n in es if ls[n] - es[n] == least), key=lambda n: (-ef[n], n))
    path = [last]
    seen = {last}
    while True:
        node = path[-1]
        driving = [p for p, lag in incoming[node] if ef[p] + lag == es[node] and ls[p] - es[p] == least and p not in seen]
        if not driving:
            break
        path.append(min(driving))
        seen.add(path[-1])
    return list(reversed(path))
