"""Pods and Deployment status, derived lazily from the clock.

Each Deployment keeps a list of revisions (one per pod-template change, like ReplicaSets). The newest
revision always has ``spec.replicas`` pods, each Ready ``ready_delay_seconds`` after it was created.
Older revisions keep serving until every pod of the newest one is Ready, then go away at that
instant, so a rollout never drops traffic and ``replicas`` converges to ``spec.replicas``.
Nothing runs in the background: every read evaluates the same records at the current time.
"""

from __future__ import annotations

import copy
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devcluster import kinds
from devcluster.kinds import Kind
from devcluster.store import Store, _suffix, timestamp

Obj = dict[str, Any]


@dataclass
class Pod:
    name: str
    created: float
    ready_at: float


@dataclass
class Revision:
    hash: str
    started: float
    template: Obj
    pods: list[Pod] = field(default_factory=list)

    def done_at(self) -> float:
        """When every pod of this revision is Ready (its start when it has none)."""
        return max((p.ready_at for p in self.pods), default=self.started)


def template_hash(template: Any) -> str:
    return _suffix(json.dumps(template, sort_keys=True), 10)


class PodTracker:
    """Maintains revisions and pods for every Deployment; listens to the store's deployment writes."""

    def __init__(self, store: Store, clock: Callable[[], float], ready_delay: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock
        self.ready_delay = ready_delay
        self.revisions: dict[tuple[str, str], list[Revision]] = {}
        self._serial = 0
        store.listeners.append(self.on_change)

    def reset(self) -> None:
        self.revisions.clear()

    def on_change(self, kind: Kind, namespace: str, name: str, old: Obj | None, new: Obj | None) -> None:
        if kind is not kinds.DEPLOYMENTS:
            return
        key = (namespace, name)
        if new is None:
            self.revisions.pop(key, None)
            return
        now = self.clock()
        revs = self.revisions.setdefault(key, [])
        if revs and now >= revs[-1].done_at():
            del revs[:-1]  # older revisions are already gone
        template = new["spec"]["template"]
        digest = template_hash(template)
        if not revs or revs[-1].hash != digest:
            revs.append(Revision(digest, now, copy.deepcopy(template)))
        current = revs[-1]
        want = int(new["spec"].get("replicas", 1))
        delay = float(self.ready_delay())
        while len(current.pods) < want:
            self._serial += 1
            pod_name = f"{name}-{current.hash}-{_suffix(f'{namespace}/{name}/{current.hash}/{self._serial}')}"
            current.pods.append(Pod(pod_name, now, now + delay))
        # Scale-down removes the newest pods first, as the ReplicaSet controller prefers not-yet-ready ones.
        del current.pods[want:]

    def live(self, namespace: str, name: str, now: float | None = None) -> list[tuple[Revision, Pod]]:
        """The pods that exist at ``now``: the newest revision's, plus older ones until it is fully Ready."""
        now = self.clock() if now is None else now
        revs = self.revisions.get((namespace, name)) or []
        if not revs:
            return []
        current = revs[-1]
        pods = [(current, p) for p in current.pods]
        if now < current.done_at():
            pods = [(r, p) for r in revs[:-1] for p in r.pods] + pods
        return pods

    def counts(self, namespace: str, name: str, now: float | None = None) -> tuple[int, int, int]:
        """``(replicas, updated, ready)`` at ``now``."""
        now = self.clock() if now is None else now
        revs = self.revisions.get((namespace, name)) or []
        live = self.live(namespace, name, now)
        current = revs[-1] if revs else None
        updated = sum(1 for r, _ in live if r is current)
        ready = sum(1 for _, p in live if p.ready_at <= now)
        return len(live), updated, ready

    # -- objects as the API serves them ------------------------------------------------------------------

    def deployment_status(self, dep: Obj) -> Obj:
        meta = dep["metadata"]
        now = self.clock()
        replicas, updated, ready = self.counts(meta["namespace"], meta["name"], now)
        desired = int(dep["spec"].get("replicas", 1))
        revs = self.revisions.get((meta["namespace"], meta["name"])) or []
        current = revs[-1] if revs else None
        complete = updated == desired and replicas == desired and ready == desired
        started = timestamp(current.started if current else now)
        done = timestamp(current.done_at()) if current and complete else started
        available = ready >= desired
        status: Obj = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": replicas,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True" if available else "False",
                    "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                    "message": "Deployment has minimum availability." if available else "Deployment does not have minimum availability.",
                    "lastUpdateTime": done if available else started,
                    "lastTransitionTime": done if available else started,
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                    "message": (
                        f'ReplicaSet "{meta["name"]}-{current.hash if current else ""}" '
                        + ("has successfully progressed." if complete else "is progressing.")
                    ),
                    "lastUpdateTime": done,
                    "lastTransitionTime": started,
                },
            ],
        }
        if replicas > ready:
            status["unavailableReplicas"] = replicas - ready
        return status

    def pods(self, namespace: str | None) -> list[Obj]:
        now = self.clock()
        result: list[Obj] = []
        for (ns, name), revs in sorted(self.revisions.items()):
            if namespace is not None and ns != namespace:
                continue
            dep = self.store.peek(kinds.DEPLOYMENTS, ns, name)
            if dep is None or not revs:
                continue
            for rev, pod in self.live(ns, name, now):
                result.append(self._pod_object(ns, name, dep, rev, pod, now))
        return result

    def _pod_object(self, namespace: str, dep_name: str, dep: Obj, rev: Revision, pod: Pod, now: float) -> Obj:
        ready = pod.ready_at <= now
        labels = dict((rev.template.get("metadata") or {}).get("labels") or {})
        labels["pod-template-hash"] = rev.hash
        ip_seed = zlib.crc32(pod.name.encode())
        spec = copy.deepcopy(rev.template.get("spec") or {})
        spec.setdefault("nodeName", f"gpu-node-{ip_seed % 8}")
        ready_text = "True" if ready else "False"
        since = timestamp(pod.ready_at if ready else pod.created)
        statuses = [
            {
                "name": c.get("name", ""),
                "image": c.get("image", ""),
                "imageID": "",
                "ready": ready,
                "started": ready,
                "restartCount": 0,
                "state": {"running": {"startedAt": timestamp(pod.created)}}
                if ready
                else {"waiting": {"reason": "ContainerCreating"}},
            }
            for c in spec.get("containers") or []
        ]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod.name,
                "namespace": namespace,
                "uid": f"{zlib.crc32(pod.name.encode()):08x}-0000-4000-8000-{zlib.crc32(namespace.encode()):012x}",
                "resourceVersion": str(self.store.rv),
                "creationTimestamp": timestamp(pod.created),
                "labels": labels,
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": f"{dep_name}-{rev.hash}",
                        "uid": dep["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": spec,
            "status": {
                "phase": "Running" if ready else "Pending",
                "conditions": [
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": timestamp(pod.created)},
                    {"type": "ContainersReady", "status": ready_text, "lastTransitionTime": since},
                    {"type": "Ready", "status": ready_text, "lastTransitionTime": since},
                ],
                "hostIP": f"10.0.{ip_seed % 8}.10",
                "podIP": f"10.244.{(ip_seed >> 8) % 250}.{ip_seed % 250 + 2}",
                "startTime": timestamp(pod.created),
                "containerStatuses": statuses,
            },
        }
