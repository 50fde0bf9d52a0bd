"""The critical path method over a DAG of activities: forward and backward passes, slack, the driving chain.

Nodes carry ``duration`` (days) and optionally ``not_before`` (start no earlier than, an ordinal
date), ``fixed`` (already happened on that date), ``due`` (finish no later than: negative slack)
and ``done`` (complete work: never on the critical path); edges carry ``lag`` (days). The passes
read the graph's adjacency once into plain lists, so the cost is linear in nodes plus edges.
This module knows nothing of rules, programs or rendering.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

Links = dict[str, list[tuple[str, int]]]  # node -> (neighbour, lag) pairs


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
    order: tuple[str, ...] = ()
    incoming: Links = field(default_factory=dict)  # node -> (predecessor, lag): for what-if forward passes

    def slack(self, node: str) -> int:
        """Latest minus earliest start."""
        return self.ls[node] - self.es[node]


def topological(graph: nx.DiGraph[str], key: Callable[[str], Any] = str) -> list[str]:
    """The nodes in topological order, the smallest ``key`` first among those ready.

    The same order as ``nx.lexicographical_topological_sort`` (Kahn's algorithm over a heap,
    ties broken by insertion order), read straight from the graph's adjacency. Raises
    ``nx.NetworkXUnfeasible`` on a cycle, as networkx does.
    """
    position = {node: index for index, node in enumerate(graph)}
    waiting = {node: len(preds) for node, preds in graph.pred.items() if preds}
    ready = [(key(node), position[node], node) for node, preds in graph.pred.items() if not preds]
    heapq.heapify(ready)
    order: list[str] = []
    succ = graph.succ
    while ready:
        node = heapq.heappop(ready)[2]
        order.append(node)
        for child in succ[node]:
            waiting[child] -= 1
            if not waiting[child]:
                del waiting[child]
                heapq.heappush(ready, (key(child), position[child], child))
    if waiting:
        raise nx.NetworkXUnfeasible("the activities depend on each other in a cycle")
    return order


def links(graph: nx.DiGraph[str]) -> tuple[Links, Links]:
    """Predecessor and successor lists with lags, read from networkx's views once."""
    incoming: Links = {}
    outgoing: Links = {node: [] for node in graph}
    for node, preds in graph.pred.items():
        pairs = [(p, int(edge.get("lag", 0))) for p, edge in preds.items()]
        incoming[node] = pairs
        for p, lag in pairs:
            outgoing[p].append((node, lag))
    return incoming, outgoing


def forward(
    graph: nx.DiGraph[str],
    order: list[str] | tuple[str, ...],
    start: int,
    durations: Mapping[str, int] | None = None,
    incoming: Links | None = None,
) -> dict[str, int]:
    """Earliest starts only (the forward pass), with some durations replaced: for what-if questions."""
    preds = incoming if incoming is not None else links(graph)[0]
    return _forward_pass(graph, order, start, preds, durations or {})[0]


def _forward_pass(
    graph: nx.DiGraph[str], order: Sequence[str], start: int, incoming: Links, durations: Mapping[str, int]
) -> tuple[dict[str, int], dict[str, int]]:
    """Earliest start and finish of every node, in topological ``order``; ``durations`` replace the nodes' own."""
    es: dict[str, int] = {}
    ef: dict[str, int] = {}
    nodes = graph.nodes
    for node in order:
        data = nodes[node]
        fixed = data.get("fixed")
        if fixed is not None:
            es[node] = ef[node] = int(fixed)
            continue
        earliest = max(start, int(data.get("not_before") or start))
        for p, lag in incoming[node]:
            finish = ef[p] + lag
            if finish > earliest:
                earliest = finish
        es[node] = earliest
        ef[node] = earliest + int(durations.get(node, data.get("duration", 0)))
    return es, ef


def schedule(graph: nx.DiGraph[str], start: int, terminal: str | None = None, anchors: frozenset[str] = frozenset()) -> Schedule:
    """Forward and backward passes over a DAG; the critical path ends at ``terminal`` (default: the latest node).

    ``anchors`` are fixed dates that may start the critical path (a submitted BLA: its review clock).
    """
    order = topological(graph)
    nodes = graph.nodes
    incoming, outgoing = links(graph)  # read from networkx's views once; both passes use the lists
    es, ef = _forward_pass(graph, order, start, incoming, {})
    end = max(ef.values(), default=start)
    ls: dict[str, int] = {}
    lf: dict[str, int] = {}
    for node in reversed(order):
        data = nodes[node]
        latest = ef[node] if node == terminal else end
        for s, lag in outgoing[node]:
            begin = ls[s] - lag
            if begin < latest:
                latest = begin
        if data.get("due") is not None:
            latest = min(latest, int(data["due"]))
        if data.get("fixed") is not None:
            latest = ef[node]
        lf[node] = latest
        ls[node] = latest - (ef[node] - es[node])
    if terminal is None:
        path = _least_slack_chain(graph, es, ef, ls)
    else:
        path = chain_from_start(graph, order, terminal, start, es, ef, ls, anchors) or driving_chain(graph, terminal, es, ef, ls)
        if len(path) < 2:  # the terminal waits for its own target: the least-slack way into it
            path = driving_chain(graph, terminal, es, ef, ls, driving_only=False)
    return Schedule(es, ef, ls, lf, path, tuple(order), incoming)


def chain_from_start(
    graph: nx.DiGraph[str],
    order: list[str],
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
    each start, then the least total slack, then by id: one dynamic-programming pass in
    topological order, so linear in nodes plus edges.
    """
    nodes, pred = graph.nodes, graph.pred
    best: dict[str, tuple[int, int, int, str, str | None]] = {}
    for node in order:
        data = nodes[node]
        if node in anchors and data.get("fixed") is not None:
            best[node] = (0, 0, 0, node, None)
            continue
        if data.get("done") or data.get("fixed") is not None:
            continue
        slack = ls[node] - es[node]
        options = [
            (max(best[p][0], slack), 0 if ef[p] + int(edge.get("lag", 0)) == es[node] else 1, best[p][2] + slack, p, p)
            for p, edge in pred[node].items()
            if p in best
        ]
        if options:
            bottleneck, _, total, _, parent = min(options)
            best[node] = (bottleneck, 0, total, node, parent)
        elif es[node] == start and not data.get("milestone"):
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
    nodes, pred = graph.nodes, graph.pred
    path = [node]
    seen = {node}
    while True:
        current = path[-1]
        driving = [
            p
            for p, edge in pred[current].items()
            if (not driving_only or ef[p] + int(edge.get("lag", 0)) == es[current]) and p not in seen and not nodes[p].get("done")
        ]
        if not driving:
            break
        best = min(driving, key=lambda p: (ls[p] - es[p], p))
        path.append(best)
        seen.add(best)
        if nodes[best].get("fixed") is not None:
            break  # a date that already happened starts the chain
    return list(reversed(path))


def _least_slack_chain(graph: nx.DiGraph[str], es: Mapping[str, int], ef: Mapping[str, int], ls: Mapping[str, int]) -> list[str]:
    """Without a terminal: the chain of least-slack nodes that drives the latest of them."""
    if not es:
        return []
    least = min(ls[n] - es[n] for n in es)
    last = min((n for n in es if ls[n] - es[n] == least), key=lambda n: (-ef[n], n))
    pred = graph.pred
    path = [last]
    seen = {last}
    while True:
        node = path[-1]
        driving = [
            p
            for p, edge in pred[node].items()
            if ef[p] + int(edge.get("lag", 0)) == es[node] and ls[p] - es[p] == least and p not in seen
        ]
        if not driving:
            break
        path.append(min(driving))
        seen.add(path[-1])
    return list(reversed(path))
