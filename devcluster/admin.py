"""The ``/_sim`` admin API: workload behaviour, faults, auth, config, clock, stats, state and reset.

Answers are JSON; a bad request is ``400 {"error": ..., "code": 400}`` naming the field and the rule.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from devcluster import kinds
from devcluster.errors import ApiError, bad_request

if TYPE_CHECKING:
    from devcluster.server import DevCluster

MAX_ADVANCE = 7 * 24 * 3600


class AdminError(ApiError):
    pass


def _body(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request("body must be JSON") from None


def _error(exc: ApiError) -> tuple[int, dict[str, Any]]:
    return exc.code, {"error": exc.message, "code": exc.code}


def handle(cluster: DevCluster, method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, Any]:
    try:
        return _route(cluster, method, [p for p in path.split("/") if p][1:], query, _body(raw))
    except ApiError as exc:
        return _error(exc)


def _not_found() -> ApiError:
    return ApiError(404, "NotFound", "no such admin endpoint (see devcluster/README.md)")


def _route(cluster: DevCluster, method: str, parts: list[str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    if not parts:
        raise _not_found()
    head = parts[0]
    with cluster.lock:
        if head == "workloads":
            if len(parts) == 1 and method == "GET":
                keys = sorted(set(cluster.sim.behaviour) | {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in cluster.store.all(kinds.DEPLOYMENTS)})
                return 200, {"items": [{"namespace": ns, "name": n, **cluster.sim.get_behaviour(ns, n)} for ns, n in keys]}
            if len(parts) == 3:
                ns, name = parts[1], parts[2]
                if method == "PUT":
                    return 200, {"namespace": ns, "name": name, **cluster.sim.set_behaviour(ns, name, body)}
                if method == "GET":
                    return 200, {"namespace": ns, "name": name, **cluster.sim.get_behaviour(ns, name)}
                if method == "DELETE":
                    cluster.sim.behaviour.pop((ns, name), None)
                    return 200, {"namespace": ns, "name": name, **cluster.sim.get_behaviour(ns, name)}
        elif head == "faults" and len(parts) == 1:
            if method == "PUT":
                cluster.faults.configure(body)
            if method in ("GET", "PUT"):
                return 200, cluster.faults.as_dict()
        elif head == "auth" and len(parts) == 1:
            if method == "PUT":
                cluster.auth.configure(body)
            if method in ("GET", "PUT"):
                return 200, {"required": bool(cluster.auth.tokens), "tokens": len(cluster.auth.tokens)}
        elif head == "config" and len(parts) == 1:
            if method == "PUT":
                _configure(cluster, body)
            if method in ("GET", "PUT"):
                return 200, _config(cluster)
        elif head == "advance" and len(parts) == 1 and method == "POST":
            seconds = body.get("seconds") if isinstance(body, dict) else None
            if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= MAX_ADVANCE:
                raise bad_request(f"seconds: must be an integer between 0 and {MAX_ADVANCE}")
            return 200, cluster.advance(seconds)
        elif head == "clock" and len(parts) == 1 and method == "GET":
            return 200, {"now": cluster.now(), "offset": cluster.offset, "last_tick": cluster.sim.last_tick, "traffic": cluster.traffic}
        elif head == "reset" and len(parts) == 1 and method == "POST":
            cluster.reset()
            return 200, {"reset": True}
        elif head == "stats" and len(parts) == 1 and method == "GET":
            ns, workload = query.get("namespace"), query.get("workload")
            if not ns or not workload:
                raise bad_request("namespace and workload: required query parameters")
            try:
                window = int(query.get("window", "60"))
            except ValueError:
                raise bad_request("window: must be an integer number of seconds") from None
            if window < 1:
                raise bad_request("window: must be at least 1")
            return 200, cluster.sim.stats(ns, workload, window)
        elif head == "state" and len(parts) == 1 and method == "GET":
            return 200, _state(cluster)
    raise _not_found()


def _configure(cluster: DevCluster, body: Any) -> None:
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    unknown = set(body) - {"ready_delay_seconds", "traffic"}
    if unknown:
        raise bad_request(f"unknown field(s) {sorted(unknown)}; allowed: ['ready_delay_seconds', 'traffic']")
    if "ready_delay_seconds" in body:
        delay = body["ready_delay_seconds"]
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 3600:
            raise bad_request("ready_delay_seconds: must be a number between 0 and 3600")
        cluster.ready_delay_seconds = float(delay)
    if "traffic" in body:
        if body["traffic"] not in ("auto", "manual"):
            raise bad_request("traffic: must be 'auto' or 'manual'")
        cluster.set_traffic(body["traffic"])


def _config(cluster: DevCluster) -> dict[str, Any]:
    return {
        "ready_delay_seconds": cluster.ready_delay_seconds,
        "traffic": cluster.traffic,
        "stats_retention_seconds": cluster.sim.retention,
    }


def _state(cluster: DevCluster) -> dict[str, Any]:
    objects: dict[str, list[Any]] = {}
    for kind in kinds.KINDS:
        if kind is kinds.PODS:
            objects[kind.key] = cluster.pods.pods(None)
        else:
            objects[kind.key] = [cluster.api.decorate(kind, obj) for obj in cluster.store.list(kind, None)]
    return {
        "resourceVersion": str(cluster.store.rv),
        "clock": {"now": cluster.now(), "offset": cluster.offset, "last_tick": cluster.sim.last_tick},
        "config": _config(cluster),
        "faults": cluster.faults.as_dict(),
        "auth": {"required": bool(cluster.auth.tokens)},
        "workloads": {f"{ns}/{n}": cluster.sim.get_behaviour(ns, n) for ns, n in sorted(cluster.sim.behaviour)},
        "counters": {
            "/".join(key): {"codes": dict(s.codes), "count": s.count} for key, s in sorted(cluster.sim.series.items())
        },
        "objects": objects,
    }
