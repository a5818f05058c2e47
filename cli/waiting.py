"""`--wait`: follow a deployment until it is live, rolled back, rejected, expired or failed.

The progress line (stderr) says where the rollout is — step k/n, traffic weights, the last
analysis' verdict and reason — rewritten in place on a terminal, one line per change in a
CI log. Polling tolerates a few failed reads in a row (a portal restart must not fail a
30-minute pipeline); the deployment itself never depends on the CLI staying attached.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cli import exitcodes
from cli.client import ApiError, Client, NetworkError
from cli.output import Output, ProgressLine

MAX_READ_FAILURES = 5


def title(d: dict) -> str:
    return f"#{d['id']} {d.get('model_name', 'model')} v{d.get('version_number', '?')} → {d.get('environment')}"


def last_analysis(d: dict) -> dict | None:
    """The analysis that says most about progress: the newest one, except that a routine
    "ok" of the continuous rollback check does not hide the step verdict before it (the
    progress line would flap between the two every tick)."""
    analyses = d.get("analyses") or []
    for analysis in reversed(analyses):
        if not (analysis.get("kind") == "continuous" and analysis.get("verdict") == "ok"):
            return analysis
    return analyses[-1] if analyses else None


def describe(d: dict) -> str:
    """One line: where the deployment is now."""
    status = d.get("status", "?")
    head = f"{title(d)}: {status.replace('_', ' ')}"
    if status == "pending_approval":
        return head + " — waiting for a platform engineer (`slipway approve " + str(d["id"]) + "`)"
    rollout = d.get("rollout") or {}
    parts = [head]
    if status in ("queued", "progressing", "paused") and rollout:
        steps = rollout.get("steps") or []
        index = rollout.get("step_index")
        if isinstance(index, int) and index >= 0 and steps:
            parts.append(f"step {min(index + 1, len(steps))}/{len(steps)}")
        if rollout.get("phase") and rollout["phase"] != "step":  # "step 2/4" says it already
            parts.append(str(rollout["phase"]).replace("_", " "))
        parts.append(f"canary {rollout.get('canary_weight', 0)} % / stable {rollout.get('stable_weight', 0)} %")
        analysis = last_analysis(d)
        if analysis:
            reason = analysis.get("reason") or ""
            parts.append(f"last analysis: {analysis.get('verdict')}" + (f" — {reason}" if reason else ""))
        if rollout.get("last_error"):
            parts.append(f"last error: {rollout['last_error']}")
    elif d.get("status_reason"):
        parts.append(d["status_reason"])
    return " · ".join(parts)


def outcome(d: dict) -> str:
    """The sentence printed when waiting ends."""
    status = d.get("status")
    reason = d.get("status_reason") or ""
    if status == "live":
        return f"{title(d)} is live."
    if status == "superseded":
        return f"{title(d)} went live and has since been superseded by a newer deployment."
    if status == "rolled_back":
        return f"{title(d)} was rolled back" + (f": {reason}" if reason else ".")
    if status == "rejected":
        rejection = next((a for a in reversed(d.get("approvals") or []) if a.get("decision") == "rejected"), None)
        if rejection:
            return f"{title(d)} was rejected by {rejection.get('decided_by')}: {rejection.get('comment')}"
        return f"{title(d)} was rejected" + (f": {reason}" if reason else ".")
    if status == "expired":
        return f"{title(d)}: the approval expired before the rollout started" + (f" ({reason})." if reason else ".")
    if status == "failed":
        return f"{title(d)} failed" + (f": {reason}" if reason else ".")
    return describe(d)


def wait(client: Client, out: Output, deployment_id: int, *, timeout: float, interval: float,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
         ) -> tuple[int, dict | None]:
    """Poll until the deployment is terminal or `timeout` seconds pass → (exit code, last detail)."""
    progress = ProgressLine(out.stderr)
    deadline = clock() + max(0.0, timeout)
    failures = 0
    detail: dict | None = None
    try:
        while True:
            try:
                detail = client.get(f"/api/v1/deployments/{deployment_id}/")
                failures = 0
            except (NetworkError, ApiError) as exc:
                if isinstance(exc, ApiError) and exc.status < 500 and exc.status != 429:
                    raise  # 401/404: waiting longer will not help
                failures += 1
                if failures >= MAX_READ_FAILURES:
                    raise
                progress.update(f"#{deployment_id}: could not read the deployment ({exc}); retrying")
            if detail is not None:
                progress.update(describe(detail))
                status = detail.get("status")
                if status in exitcodes.TERMINAL:
                    progress.close()
                    code = exitcodes.BY_STATUS[status]
                    message = outcome(detail)
                    if code == exitcodes.OK:
                        out.info(message)
                    else:
                        out.error(message)
                    return code, detail
            remaining = deadline - clock()
            if remaining <= 0:
                progress.close()
                where = detail.get("status", "?").replace("_", " ") if detail else "unknown"
                out.error(f"timed out after {timeout:g} s: #{deployment_id} is {where}. It keeps going; follow it "
                          f"with `slipway status {deployment_id} --wait`.")
                return exitcodes.TIMEOUT, detail
            sleep(min(interval, remaining))
    except KeyboardInterrupt:
        progress.close()
        out.info(f"slipway: stopped waiting; #{deployment_id} keeps going (`slipway status {deployment_id} --wait`).")
        return exitcodes.INTERRUPTED, detail
