"""Metering arithmetic: how many replicas ran when, and what an hour of that costs.

The model of replica-hours
--------------------------
A deployment's replica count is a step function of time, rebuilt from what the database
records about it (the rollout events are the history; nothing is sampled):

* Status transitions (RolloutEvent kind "transition", at its `created_at`):
  - → `progressing`: the new version starts with its first batch (rolling strategy:
    `rollout.batches[0][0]`) or its `min_replicas` (canary: the canary runs at its minimum
    beside the stable version, whose own replicas are metered on the stable deployment);
  - → `paused`: unchanged (a paused rollout keeps its pods);
  - → `live`: `min_replicas` (the autoscaler's floor: replicas the HPA adds above the floor
    are not visible to the portal; AWS actuals catch them);
  - → anything else (`superseded`, `rolled_back`, `failed`, `queued`, …): 0.
* Scale changes during a rolling rollout: a step/traffic event with `step_index = k` sets
  the new version to `batches[k][0]` replicas and the old (live) version it replaces to
  `batches[k][1]`.
* A deployment without transition events (rows created outside the services) falls back
  to its timestamps: `max(started_at, live_since)` … `finished_at` (open while running).

Replica-seconds in an hour = ∫ replicas dt over [hour, hour + 1 h) ∩ [.., now]: partial
hours (a deployment going live at 10:15 meters 45 minutes) and scale changes within the
hour fall out of the integral. Replica-hours = replica-seconds / 3600.

Pricing
-------
A replica occupies `gpus_per_replica / instance.gpus` of a GPU node (at least one GPU's
share; the same share the engine gives the pod's CPU and memory requests), a whole node on a
CPU instance type. `instance_hours = replica_hours × share`; with spot share `s`
(config.spot_percent / 100): `on_demand_usd = instance_hours × (1 − s) × on_demand_rate`,
`spot_usd = instance_hours × s × spot_rate`, `usd = on_demand_usd + spot_usd`;
`gpu_hours = replica_hours × gpus_per_replica`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

RUNNING = {"progressing", "paused", "live"}
FOUR = Decimal("0.0001")


@dataclass(frozen=True)
class Change:
    """From `at` on, the deployment runs `replicas` replicas."""

    at: datetime
    replicas: int
    why: str = ""


@dataclass(frozen=True)
class EventFact:
    """The part of a RolloutEvent the timeline needs (so it can be built from plain values)."""

    at: datetime
    kind: str
    to_status: str
    step_index: int | None


def _batch(batches: Sequence, index: int | None, side: int) -> int | None:
    if index is None or index < 0 or not batches:
        return None
    row = batches[min(index, len(batches) - 1)]
    try:
        return int(row[side])
    except (TypeError, ValueError, IndexError):
        return None


def timeline(*, config: dict, strategy: str, batches: Sequence, events: Iterable[EventFact],
             successor_events: Iterable[tuple[Sequence, EventFact]] = (), started_at: datetime | None = None,
             live_since: datetime | None = None, finished_at: datetime | None = None) -> list[Change]:
    """The replica step function of one deployment (see the module docstring)."""
    min_replicas = int(config.get("min_replicas") or 1)
    first = _batch(batches, 0, 0) if strategy == "rolling" else None
    first = first if first is not None else min_replicas
    own = sorted(events, key=lambda e: e.at)
    changes: list[Change] = []
    status = ""
    has_transitions = any(e.kind == "transition" and e.to_status for e in own)
    merged: list[tuple[datetime, int, str, EventFact, Sequence | None]] = [
        (e.at, 0, "own", e, None) for e in own] + [
        (e.at, 1, "successor", e, b) for b, e in successor_events]
    merged.sort(key=lambda item: (item[0], item[1]))
    if not has_transitions:
        start = started_at or live_since
        if start is None:
            return []
        changes.append(Change(start, min_replicas if strategy != "rolling" or live_since else first, "started"))
        if live_since and started_at and live_since > started_at:
            changes.append(Change(live_since, min_replicas, "live"))
        if finished_at:
            changes.append(Change(finished_at, 0, "finished"))
        return changes
    for at, _order, who, event, succ_batches in merged:
        if who == "own":
            if event.kind == "transition" and event.to_status:
                previous = status
                status = event.to_status
                if status == "progressing" and previous != "paused":
                    changes.append(Change(at, first, "rollout started"))
                elif status == "live":
                    changes.append(Change(at, min_replicas, "live"))
                elif status not in RUNNING:
                    changes.append(Change(at, 0, status))
            elif strategy == "rolling" and status in ("progressing", "paused") and event.step_index is not None:
                replicas = _batch(batches, event.step_index, 0)
                if replicas is not None:
                    changes.append(Change(at, replicas, f"batch {event.step_index + 1}"))
        elif status == "live" and event.step_index is not None:
            # A rolling successor shrinks this (old) version batch by batch.
            replicas = _batch(succ_batches or [], event.step_index, 1)
            if replicas is not None:
                changes.append(Change(at, replicas, f"successor batch {event.step_index + 1}"))
    return changes


def replica_seconds(changes: Sequence[Change], start: datetime, end: datetime) -> float:
    """∫ replicas dt over [start, end) for the step function `changes`."""
    if end <= start or not changes:
        return 0.0
    total = 0.0
    ordered = sorted(changes, key=lambda c: c.at)
    for index, change in enumerate(ordered):
        seg_start = change.at
        seg_end = ordered[index + 1].at if index + 1 < len(ordered) else end
        lo, hi = max(seg_start, start), min(seg_end, end)
        if hi > lo and change.replicas > 0:
            total += change.replicas * (hi - lo).total_seconds()
    return total


def replicas_at(changes: Sequence[Change], at: datetime) -> int:
    current = 0
    for change in sorted(changes, key=lambda c: c.at):
        if change.at > at:
            break
        current = change.replicas
    return current


@dataclass(frozen=True)
class HourCost:
    """The priced figures of one (deployment, hour)."""

    replica_hours: Decimal
    gpu_hours: Decimal
    instance_hours: Decimal
    spot_share: Decimal
    on_demand_rate: Decimal
    spot_rate: Decimal
    on_demand_usd: Decimal
    spot_usd: Decimal
    usd: Decimal


def q4(value: Decimal) -> Decimal:
    return value.quantize(FOUR, rounding=ROUND_HALF_UP)


def node_share(*, gpus_per_replica: int, instance_gpus: int) -> Decimal:
    """The fraction of one node a replica occupies (see "Pricing" above)."""
    if instance_gpus <= 0:
        return Decimal(1)
    return Decimal(max(gpus_per_replica, 1)) / Decimal(instance_gpus)


def price(*, seconds: float, gpus_per_replica: int, instance_gpus: int, spot_percent: int,
          on_demand_rate: Decimal, spot_rate: Decimal) -> HourCost:
    """Price `seconds` replica-seconds (see "Pricing" above). Rounded to 1/10 000 at the end."""
    replica_hours = Decimal(str(seconds)) / Decimal(3600)
    instance_hours = replica_hours * node_share(gpus_per_replica=gpus_per_replica, instance_gpus=instance_gpus)
    spot = Decimal(max(0, min(100, int(spot_percent)))) / Decimal(100)
    on_demand_usd = instance_hours * (1 - spot) * on_demand_rate
    spot_usd = instance_hours * spot * spot_rate
    return HourCost(
        replica_hours=q4(replica_hours), gpu_hours=q4(replica_hours * gpus_per_replica),
        instance_hours=q4(instance_hours), spot_share=spot, on_demand_rate=on_demand_rate, spot_rate=spot_rate,
        on_demand_usd=q4(on_demand_usd), spot_usd=q4(spot_usd), usd=q4(on_demand_usd) + q4(spot_usd))


def hour_start(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """Hour starts h with start ≤ h < end (start rounded down to its hour)."""
    current = hour_start(start)
    out = []
    while current < end:
        out.append(current)
        current += timedelta(hours=1)
    return out
