"""What a notification says: Slack-compatible JSON (`text` + `blocks`) plus a structured `slipway` object.

Slack (and Mattermost, Teams' Slack-compatible connectors) render `text`/`blocks`; programs read
`slipway`: event, tenant, model, version, deployment, environment, status, reason, url,
occurred_at. Only the tenant's own objects ever appear in its payloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from apps.notifications.choices import Event

TITLES = {
    Event.APPROVAL_NEEDED: ":raising_hand: Production approval needed",
    Event.QUEUED: ":inbox_tray: Deployment queued",
    Event.APPROVED: ":white_check_mark: Production request approved",
    Event.REJECTED: ":no_entry: Production request rejected",
    Event.EXPIRED: ":hourglass: Production request expired",
    Event.PAUSED: ":double_vertical_bar: Rollout paused",
    Event.LIVE: ":rocket: Rollout finished: live",
    Event.ROLLED_BACK: ":rewind: Rolled back",
    Event.FAILED: ":x: Rollout failed",
    Event.DRIFT_MEDIUM: ":warning: Drift (medium)",
    Event.DRIFT_HIGH: ":rotating_light: Drift (high)",
    Event.COST_ANOMALY: ":money_with_wings: Cost anomaly",
    Event.BUDGET_THRESHOLD: ":bar_chart: Budget threshold reached",
    Event.TEST: ":wave: Test notification from Slipway",
}


@dataclass
class Message:
    """One event's content, before it is shaped for a channel."""

    event: str
    tenant: str
    summary: str
    url: str
    subject: str
    facts: dict = field(default_factory=dict)  # the structured part (model, version, deployment, ...)

    @property
    def title(self) -> str:
        return TITLES.get(self.event, self.event)


def absolute(path: str) -> str:
    return settings.SLIPWAY_PUBLIC_URL.rstrip("/") + path


def _usd(value) -> str:
    """Money as a string with cents (exact; JSON numbers would be floats)."""
    return f"{value:.2f}"


def _escape(text: str) -> str:
    """Slack mrkdwn control characters (a model name must not become a link or a mention)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_payload(message: Message) -> dict:
    title = message.title
    summary = _escape(message.summary)
    link = f"<{message.url}|Open in Slipway>" if message.url else ""
    return {
        "text": f"{title}: {message.summary}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{summary}"}},
            {"type": "context", "elements": [{"type": "mrkdwn",
                                              "text": " · ".join(p for p in (f"team {_escape(message.tenant)}",
                                                                             link) if p)}]},
        ],
        "slipway": {"event": message.event, "tenant": message.tenant, **message.facts, "url": message.url,
                    "occurred_at": timezone.now().isoformat()},
    }


def email_content(payload: dict) -> tuple[str, str]:
    """Subject and plain-text body of the e-mail for a stored webhook-shaped payload."""
    data = payload.get("slipway", {})
    title = TITLES.get(data.get("event", ""), data.get("event", "Notification"))
    plain_title = title.split(" ", 1)[1] if title.startswith(":") else title
    subject = f"[Slipway · {data.get('tenant', '')}] {plain_title}"
    lines = [payload.get("text", ""), ""]
    lines += [f"{key}: {value}" for key, value in data.items() if value not in (None, "") and key != "url"]
    if data.get("url"):
        lines += ["", f"Open in Slipway: {data['url']}"]
    return subject[:200], "\n".join(lines)


# --- per event ---------------------------------------------------------------------------------

def deployment_message(deployment, event: str) -> Message:
    version = deployment.version
    model = deployment.model
    env = deployment.environment.name
    reason = (deployment.status_reason or "").strip()
    by = deployment.requested_by.get_username() if deployment.requested_by_id else ""
    verbs = {
        Event.APPROVAL_NEEDED: f"{by} asks to deploy {model.name} v{version.version} to {env}.",
        Event.QUEUED: f"{model.name} v{version.version} is queued for {env}.",
        Event.APPROVED: f"{model.name} v{version.version} to {env} was approved; the rollout starts shortly.",
        Event.REJECTED: f"{model.name} v{version.version} to {env} was rejected.",
        Event.EXPIRED: f"The approval of {model.name} v{version.version} to {env} expired before it started.",
        Event.PAUSED: f"The rollout of {model.name} v{version.version} in {env} is paused.",
        Event.LIVE: f"{model.name} v{version.version} is live in {env}.",
        Event.ROLLED_BACK: f"{model.name} v{version.version} in {env} was rolled back.",
        Event.FAILED: f"The rollout of {model.name} v{version.version} in {env} failed.",
    }
    summary = verbs.get(event, f"{model.name} v{version.version} in {env}: {event}.")
    if reason:
        summary += f" Reason: {reason[:300]}"
    return Message(
        event=event, tenant=deployment.tenant.slug, summary=summary, subject=f"deployment #{deployment.pk}",
        url=absolute(reverse("deployments:deployment_detail", args=[deployment.pk])),
        facts={"model": model.name, "version": version.version, "deployment": deployment.pk, "environment": env,
               "status": deployment.status, "reason": reason[:1000], "requested_by": by})


def drift_message(report) -> Message:
    event = Event.DRIFT_HIGH if report.severity == "high" else Event.DRIFT_MEDIUM
    model = report.model
    summary = (f"{model.name} v{report.version.version}: PSI {report.max_psi:.3f} on "
               f"{report.top_feature or 'predictions'} ({report.severity}) over {report.rows:,} rows.")
    return Message(
        event=event, tenant=model.tenant.slug, summary=summary, subject=f"drift report #{report.pk}",
        url=absolute(reverse("drift:model_drift", args=[model.pk])),
        facts={"model": model.name, "version": report.version.version, "report": report.pk,
               "status": report.severity, "reason": f"max PSI {report.max_psi:.4f} on {report.top_feature}",
               "max_psi": round(report.max_psi, 6), "top_feature": report.top_feature})


def anomaly_message(anomaly) -> Message:
    model = anomaly.model
    summary = (f"{model.name} cost ${anomaly.usd:,.2f} on {anomaly.day:%Y-%m-%d}, "
               f"{anomaly.increase * 100:.0f} % above its {anomaly.history_days}-day mean of "
               f"${anomaly.baseline_usd:,.2f}.")
    return Message(
        event=Event.COST_ANOMALY, tenant=anomaly.tenant.slug, summary=summary, subject=f"cost anomaly #{anomaly.pk}",
        url=absolute(reverse("costs:model_costs", args=[model.pk])),
        facts={"model": model.name, "anomaly": anomaly.pk, "day": anomaly.day.isoformat(), "usd": _usd(anomaly.usd),
               "baseline_usd": _usd(anomaly.baseline_usd), "increase": round(anomaly.increase, 4),
               "status": "anomaly", "reason": f"{anomaly.increase * 100:.0f} % above the trailing mean"})


def budget_message(alert) -> Message:
    summary = (f"Team {alert.tenant.slug} has spent ${alert.mtd_usd:,.2f} of its ${alert.budget_usd:,.2f} budget "
               f"for {alert.month:%B %Y} ({alert.threshold} % reached; forecast ${alert.forecast_usd:,.2f}).")
    return Message(
        event=Event.BUDGET_THRESHOLD, tenant=alert.tenant.slug, summary=summary, subject=f"budget {alert.threshold} %",
        url=absolute(reverse("costs:cost_overview")),
        facts={"threshold": alert.threshold, "month": alert.month.strftime("%Y-%m"), "mtd_usd": _usd(alert.mtd_usd),
               "budget_usd": _usd(alert.budget_usd), "forecast_usd": _usd(alert.forecast_usd),
               "status": f"{alert.threshold}%", "reason": f"month-to-date cost reached {alert.threshold} % of budget"})


def test_message(destination, actor) -> Message:
    who = actor.get_username() if actor is not None else "Slipway"
    return Message(
        event=Event.TEST, tenant=destination.tenant.slug, subject=f"destination {destination.name}",
        summary=f"{who} sent a test to “{destination.name}”. If you can read this, notifications reach you.",
        url=absolute(reverse("notifications:destination_list")), facts={"destination": destination.pk})
