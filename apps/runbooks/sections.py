"""What a runbook says: the written-section template, the generated sections, safe HTML, diffs.

Generated sections are built from the model's data at every render (endpoints of the live
deployments, SLA, owner and on-call, the gates and PromQL queries in force per environment,
how to roll back through the UI, the API and the CLI), so they never go stale. Written
sections are the people's part; `REQUIRED` lists the ones the checklist item demands.

Rendering: Markdown → HTML → nh3 (an allow-list sanitiser): no script, no event handler, no
`javascript:` URL survives, whatever was saved.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import markdown as md
import nh3
from django.conf import settings

REQUIRED = ("If you see high latency", "If you see an error spike", "If you see a drift alert",
            "If you see a cost spike")
PLACEHOLDER = "_Replace this line:"
MAX_BODY = 100_000

TEMPLATE = """## If you see high latency

_Replace this line: what to check first (dashboards, recent rollouts, GPU saturation) and what to do
(scale out, roll back, shed load)._

## If you see an error spike

_Replace this line: which errors matter, where the logs are, when to roll back._

## If you see a drift alert

_Replace this line: which features drift for known reasons (seasonality), who decides on retraining,
when to roll back to the previous version._

## If you see a cost spike

_Replace this line: expected peaks (campaigns, batch jobs), who approves extra spend, how to scale down._

## Fallback when the model is down

_What callers get while the model is unavailable (cached scores, a rule, a default)._
"""

PLATFORM_TEMPLATE = """## Symptoms

_What people see._

## Diagnose

_Commands and dashboards._

## Fix

_Steps, in order._
"""

ALLOWED_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2",
                "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub",
                "sup", "table", "tbody", "td", "th", "thead", "tr", "ul"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "code": {"class"}, "th": {"align"},
                      "td": {"align"}, "h2": {"id"}, "h3": {"id"}}
_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")


def render(markdown_text: str) -> str:
    """Markdown → sanitised HTML (safe to mark_safe)."""
    html = md.markdown(markdown_text or "", extensions=["tables", "fenced_code", "sane_lists"],
                       output_format="html")
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer nofollow", strip_comments=True)


def sections(body: str) -> dict[str, str]:
    """`## heading` → the text under it (up to the next `##`)."""
    out: dict[str, list[str]] = {}
    current = None
    in_fence = False
    for line in (body or "").splitlines():
        if line.strip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            current = match.group(1).strip()
            out.setdefault(current, [])
        elif current is not None:
            out[current].append(line)
    return {k: "\n".join(v).strip() for k, v in out.items()}


_PLACEHOLDER_TEXT = re.compile(re.escape(PLACEHOLDER) + r".*?_(?=\s|$)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _filled(text: str) -> bool:
    """Filled: at least 20 characters that are neither the template's placeholder nor a comment."""
    text = _COMMENT.sub("", _PLACEHOLDER_TEXT.sub("", text))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    meaningful = [line for line in lines if not line.startswith(PLACEHOLDER) and not line.startswith("<!--")]
    return bool(meaningful) and sum(len(line) for line in meaningful) >= 20


def missing_sections(body: str) -> list[str]:
    """The required written sections that are absent, empty or still the template's placeholder."""
    found = {k.lower(): v for k, v in sections(body).items()}
    return [name for name in REQUIRED if not _filled(found.get(name.lower(), ""))]


# --- generated sections -------------------------------------------------------------------

def _md(text) -> str:
    """Model data inside Markdown: no raw HTML, no Markdown syntax games (the sanitiser is the
    last line of defence, not the only one)."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|])", r"\\\1", str(text or ""))


def generated(model) -> str:
    """The generated half of a model's runbook, from its data right now."""
    from apps.deployments.models import Deployment, Environment
    from worker.metrics.prometheus import DEFAULT_QUERIES
    from worker.metrics.prometheus import render as render_query

    public = getattr(settings, "SLIPWAY_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
    live = {d.environment_id: d for d in Deployment.objects.filter(model=model, status="live")
            .select_related("environment", "version", "tenant")}
    lines = ["## Endpoints", ""]
    environments = list(Environment.objects.all())
    if not live:
        lines.append("Not live anywhere yet. Endpoints appear here once a deployment goes live.")
    for env in environments:
        d = live.get(env.pk)
        if d is None:
            continue
        ns = env.namespace_for(model.tenant.slug)
        lines.append(f"- **{_md(env.display_name)}**: v{d.version.version} (deployment #{d.pk}), in-cluster "
                     f"`http://{d.workload}.{ns}.svc.cluster.local:8080`, HTTPRoute `{_md(model.name)}` in "
                     f"namespace `{ns}`; rollout page {public}/deployments/{d.pk}/")
    lines += ["", "## SLA", "", f"- Latency: p99 ≤ {model.sla_p99_ms} ms."]
    lines += ["", "## Owners and on-call", "", f"- Owner: {_md(model.owner) or '**not set**'}",
              f"- On-call: {_md(model.oncall) or '**not set**'}", f"- Team: {_md(model.tenant.name)}"]
    lines += ["", "## Gates and queries in force", ""]
    for env in environments:
        d = live.get(env.pk)
        workload = d.workload if d else f"{model.name}-v<N>"
        ns = env.namespace_for(model.tenant.slug)
        lines.append(f"### {_md(env.display_name)}")
        lines.append("")
        lines.append(f"- Advance a canary step when error rate < {env.advance_max_error_rate:.1%} and p99 < the SLA; "
                     f"roll back at once when error rate > {env.rollback_error_rate:.1%} or p99 > "
                     f"{env.rollback_latency_ratio:g} × stable p99; pause after {env.max_inconclusive} inconclusive "
                     f"analyses (fewer than {env.min_requests} canary requests, or no metrics).")
        lines.append(f"- Minimum soak {env.min_soak_seconds} s per step; guard window {env.guard_window_seconds} s "
                     f"after 100 %; metrics provider `{env.metrics_provider}`.")
        queries = {**DEFAULT_QUERIES, **dict((env.metrics_config or {}).get("queries") or {})}
        lines.append("")
        lines.append("```promql")
        for name in sorted(queries):
            try:
                text = render_query(str(queries[name]), namespace=ns, workload=workload, seconds=60)
            except ValueError as exc:
                text = f"# unusable template: {exc}"
            lines.append(f"# {name}")
            lines.append(text.replace("```", "'''"))
        lines.append("```")
        lines.append("")
    example = next(iter(live.values()), None)
    ref = str(example.pk) if example else "DEPLOYMENT_ID"
    # Paragraphs, not a numbered list: Python-Markdown does not nest fenced code in list items.
    lines += ["## How to roll back", "",
              f"**UI**: open the rollout page ({public}/deployments/{ref}/) and press **Roll back**; the previous "
              "live version gets all traffic at once (no canary).", "",
              "**API**:", "",
              "```sh",
              "curl -X POST -H \"Authorization: Bearer $SLIPWAY_TOKEN\" -H 'Content-Type: application/json' \\",
              f"     -d '{{\"reason\": \"high latency\"}}' {public}/api/v1/deployments/{ref}/rollback/",
              "```", "",
              f"**CLI**: `slipway rollback {ref}` (exit code 0 once the previous version is live again).", "",
              "## Dashboards", "",
              f"- Costs: {public}/costs/models/{model.pk}/",
              f"- Model: {public}/models/{model.pk}/", ""]
    return "\n".join(lines)


# --- diff ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "add", "del", "gap"
    old_no: int | None
    new_no: int | None
    text: str


def diff(old: str, new: str, *, context: int = 3) -> list[DiffLine]:
    """A line diff with `context` unchanged lines around each change (text is escaped by the template)."""
    a, b = (old or "").splitlines(), (new or "").splitlines()
    out: list[DiffLine] = []
    for group in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_grouped_opcodes(context):
        if out:
            out.append(DiffLine("gap", None, None, "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [DiffLine("same", i1 + k + 1, j1 + k + 1, a[i1 + k]) for k in range(i2 - i1)]
                continue
            if tag in ("replace", "delete"):
                out += [DiffLine("del", i1 + k + 1, None, a[i1 + k]) for k in range(i2 - i1)]
            if tag in ("replace", "insert"):
                out += [DiffLine("add", None, j1 + k + 1, b[j1 + k]) for k in range(j2 - j1)]
    return out
