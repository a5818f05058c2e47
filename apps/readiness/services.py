"""Checklist writes: create items, evaluate the automatic ones, attest, waive.

A version is ready when every item passes or is waived (`is_ready`). Evaluation never
overrides a person's decision: attested and waived items stay as decided.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core import audit
from apps.core.access import require, require_platform
from apps.core.errors import NotFound, NotPermitted, ValidationFailed
from apps.readiness.choices import SATISFIED, ItemKind, ItemStatus
from apps.readiness.errors import ReadinessErrorCode
from apps.readiness.evaluators import EVALUATORS
from apps.readiness.models import ChecklistDefinition, ChecklistItem
from apps.registry.models import ModelVersion

MAX_TEXT = 5000
KEY_RE = re.compile(r"^[a-z0-9_]{1,50}$")


def ensure_items(version: ModelVersion) -> None:
    """Create the missing checklist items of `version` from the active definitions."""
    definitions = ChecklistDefinition.objects.filter(active=True)
    existing = set(version.checklist.values_list("key", flat=True))
    ChecklistItem.objects.bulk_create([
        ChecklistItem(version=version, definition=d, key=d.key, status=ItemStatus.PENDING, detail=d.description)
        for d in definitions if d.key not in existing
    ], ignore_conflicts=True)


def evaluate(version: ModelVersion, *, actor=None) -> list[ChecklistItem]:
    """Re-run the automatic evaluators of `version`; returns the items that changed.

    Items decided by a person (attested or waived) are left alone. One audit event
    lists every status change of this pass.
    """
    if actor is not None:
        require(actor, "change", version.model.tenant_id, what="version")
    ensure_items(version)
    changed: list[ChecklistItem] = []
    changes: dict[str, dict] = {}
    unchanged: list[int] = []
    now = timezone.now()
    with transaction.atomic():
        version = ModelVersion.objects.select_related("model").get(pk=version.pk)
        items = list(ChecklistItem.objects.select_for_update().filter(version=version).select_related("definition"))
        for item in items:
            fn = EVALUATORS.get(item.key)
            # `decided_at`, not `decided_by`: the person's account may be deleted (SET_NULL)
            # and their decision must still stand.
            if fn is None or item.definition.kind == ItemKind.ATTESTED or item.decided_at is not None \
                    or item.status == ItemStatus.WAIVED:
                continue
            verdict = fn(version)
            status, detail = verdict if verdict is not None else (ItemStatus.PENDING, item.definition.description)
            if status != item.status or detail != item.detail:
                if status != item.status:
                    changes[item.key] = {"before": item.status, "after": status}
                item.status, item.detail, item.evaluated_at = status, detail, now
                item.save(update_fields=["status", "detail", "evaluated_at", "updated_at"])
                changed.append(item)
            else:
                unchanged.append(item.pk)
        if unchanged:
            # evaluated_at means "last evaluated", changed or not: the version page polls
            # on it to know that a requested re-evaluation has run (one UPDATE per pass).
            ChecklistItem.objects.filter(pk__in=unchanged).update(evaluated_at=now)
        if changes:
            audit.record("checklist.evaluated", actor=actor, tenant=version.model.tenant_id, obj=version,
                         before={k: v["before"] for k, v in changes.items()},
                         after={k: v["after"] for k, v in changes.items()})
    return changed


def get_item(version: ModelVersion, key: str) -> ChecklistItem:
    """The checklist item `key` of `version` (NotFound for a key no definition has)."""
    if not isinstance(key, str) or not KEY_RE.match(key):
        # Checked before the query: PostgreSQL refuses NUL bytes and a malformed key is unknown anyway.
        raise NotFound("The checklist has no such item.", code=ReadinessErrorCode.UNKNOWN_ITEM, field="key")
    ensure_items(version)
    item = ChecklistItem.objects.select_related("definition").filter(version=version, key=key).first()
    if item is None:
        raise NotFound(f"The checklist has no item '{key}'.", code=ReadinessErrorCode.UNKNOWN_ITEM, field="key")
    return item


def _clean_text(value, field: str, *, required: bool, code: str, message: str) -> str:
    text = value if isinstance(value, str) else ("" if value is None else None)
    if text is None:
        raise ValidationFailed([(field, "invalid", f"{field} must be text.")])
    text = text.strip()
    if "\x00" in text:
        raise ValidationFailed([(field, "null_characters", "NUL characters are not allowed.")])
    if len(text) > MAX_TEXT:
        raise ValidationFailed([(field, "max_length", f"At most {MAX_TEXT} characters.")])
    if required and not text:
        raise ValidationFailed([(field, code, message)])
    return text


def _require_person(actor, doing: str) -> None:
    # An attestation or waiver says *who* decided: the system cannot make one.
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NotPermitted(f"Only a signed-in person can {doing}.")


def attest(item: ChecklistItem, *, actor, status: str, evidence: str) -> ChecklistItem:
    """A data scientist (or platform engineer) records a pass or fail with evidence.

    Only attested or either-kind items; viewers are refused (403), other teams get 404.
    """
    _require_person(actor, "attest checklist items")
    require(actor, "change", item.version.model.tenant_id, what="version")
    if item.definition.kind == ItemKind.AUTOMATIC:
        raise ValidationFailed([("status", ReadinessErrorCode.NOT_ATTESTABLE,
                                 f"'{item.key}' is checked automatically; re-evaluate it, or ask a platform "
                                 "engineer to waive it.")])
    if status not in (ItemStatus.PASS, ItemStatus.FAIL):
        raise ValidationFailed([("status", ReadinessErrorCode.BAD_STATUS, "Attest with status 'pass' or 'fail'.")])
    evidence = _clean_text(evidence, "evidence", required=True, code=ReadinessErrorCode.EVIDENCE_REQUIRED,
                           message="Say what shows this, e.g. a link to the review or the report.")
    return _decide(item, actor=actor, status=status, evidence=evidence, reason="", action="checklist.attested")


def waive(item: ChecklistItem, *, actor, reason: str) -> ChecklistItem:
    """A platform engineer waives an item; the reason is required and kept."""
    _require_person(actor, "waive checklist items")
    require(actor, "view", item.version.model.tenant_id, what="version")
    require_platform(actor, doing="waive checklist items")
    reason = _clean_text(reason, "reason", required=True, code=ReadinessErrorCode.REASON_REQUIRED,
                         message="A waiver needs a reason.")
    return _decide(item, actor=actor, status=ItemStatus.WAIVED, evidence=item.evidence, reason=reason,
                   action="checklist.waived")


def _decide(item: ChecklistItem, *, actor, status: str, evidence: str, reason: str, action: str) -> ChecklistItem:
    with transaction.atomic():
        locked = ChecklistItem.objects.select_for_update().select_related("version__model").get(pk=item.pk)
        before = {"status": locked.status, "evidence": locked.evidence, "waiver_reason": locked.waiver_reason}
        locked.status, locked.evidence, locked.waiver_reason = status, evidence, reason
        locked.decided_by, locked.decided_at = actor, timezone.now()
        if status == ItemStatus.WAIVED:
            locked.detail = f"Waived by {actor}: {reason}"
        else:
            locked.detail = f"Attested {status} by {actor}."
        locked.save()
        audit.record(action, actor=actor, tenant=locked.version.model.tenant_id, obj=locked,
                     object_repr=f"{locked.version} · {locked.key}", before=before,
                     after={"status": status, "evidence": evidence, "waiver_reason": reason})
    return locked


@dataclass(frozen=True)
class Readiness:
    ready: bool
    total: int
    satisfied: int
    failing: list[str]  # keys not passed or waived


def readiness(version: ModelVersion, items: list[ChecklistItem] | None = None) -> Readiness:
    """Summary of a version's checklist. Pass prefetched `items` to avoid a query."""
    if items is None:
        items = list(version.checklist.all())
    failing = [i.key for i in items if i.status not in SATISFIED]
    return Readiness(ready=bool(items) and not failing, total=len(items), satisfied=len(items) - len(failing),
                     failing=failing)


def add_definition(*, actor, key: str, title: str, description: str, position: int = 100) -> ChecklistDefinition:
    """Platform engineers add an attested item to every version's checklist.

    Existing versions get the item (pending) the next time their checklist is evaluated
    or read, so a version that was ready needs the new item too.
    """
    require_platform(actor, doing="add checklist items")
    errors = []
    if not isinstance(key, str) or not KEY_RE.match(key):
        errors.append(("key", "invalid", "Use 1-50 lowercase letters, digits and underscores."))
    elif ChecklistDefinition.objects.filter(key=key).exists():
        errors.append(("key", "duplicate", f"An item '{key}' exists already."))
    try:
        title = _clean_text(title, "title", required=True, code="required", message="Give the item a title.")
        if len(title) > 100:
            errors.append(("title", "max_length", "At most 100 characters."))
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    try:
        description = _clean_text(description, "description", required=True, code="required",
                                  message="Say what makes the item pass.")
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= 1_000_000:
        errors.append(("position", "invalid", "Give a whole number between 0 and 1000000."))
    if errors:
        raise ValidationFailed(errors)
    try:
        with transaction.atomic():
            definition = ChecklistDefinition.objects.create(key=key, title=title, description=description,
                                                            kind=ItemKind.ATTESTED, position=position)
            audit.record("checklist.definition_added", actor=actor, obj=definition,
                         after={"key": key, "title": title, "description": description, "position": position})
    except IntegrityError:  # the same key added concurrently
        raise ValidationFailed([("key", "duplicate", f"An item '{key}' exists already.")]) from None
    return definition
