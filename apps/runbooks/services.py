"""Runbook writes: save a model's runbook or a platform-wide one, keeping every revision."""

from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify

from apps.core import audit
from apps.core.access import require, require_platform
from apps.core.errors import Conflict, NotFound, ValidationFailed
from apps.runbooks.errors import RunbookErrorCode
from apps.runbooks.models import Runbook, RunbookRevision
from apps.runbooks.sections import MAX_BODY, PLATFORM_TEMPLATE, TEMPLATE, missing_sections


def _clean(body, *, field: str = "body", limit: int = MAX_BODY, required: bool = False) -> str:
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise ValidationFailed([(field, "invalid", f"{field} must be text.")])
    if "\x00" in body:
        raise ValidationFailed([(field, "null_characters", "NUL characters are not allowed.")])
    if len(body) > limit:
        raise ValidationFailed([(field, "max_length", f"At most {limit} characters, not {len(body)}.")])
    body = body.replace("\r\n", "\n")
    if required and not body.strip():
        raise ValidationFailed([(field, "required", f"{field} must not be empty.")])
    return body


def template_for(model) -> str:
    return TEMPLATE


def _save(book: Runbook, *, actor, body: str, title: str, summary: str, expected_revision: int | None,
          action: str) -> Runbook:
    if expected_revision is not None and expected_revision != book.revision:
        raise Conflict(f"The runbook was saved by someone else (now revision {book.revision}, you edited "
                       f"{expected_revision}); reload, merge and save again.", code=RunbookErrorCode.STALE_REVISION,
                       field="expected_revision")
    if book.pk and body == book.body and title == book.title:
        return book  # nothing changed: no empty revision
    before = {"revision": book.revision, "missing": missing_sections(book.body)} if book.pk else None
    book.body, book.title = body, title
    book.revision += 1
    book.updated_by = actor if getattr(actor, "is_authenticated", False) else None
    book.save()
    RunbookRevision.objects.create(runbook=book, number=book.revision, title=title, body=body, summary=summary,
                                   created_by=book.updated_by)
    audit.record(action, actor=actor, tenant=book.tenant_id, obj=book, before=before,
                 after={"revision": book.revision, "summary": summary, "missing": missing_sections(body),
                        "length": len(body)})
    return book


def save_runbook(model, *, actor, body, summary: str = "", expected_revision: int | None = None) -> Runbook:
    """Save the written part of `model`'s runbook as a new revision (every save is kept).

    Refused: viewers (403), other teams (404), a stale `expected_revision` (409 — somebody
    saved in between; nothing is overwritten). The model's checklist is re-evaluated after
    commit, so the `runbook` item follows the required sections.
    """
    require(actor, "change", model.tenant_id, what="model")
    body = _clean(body)
    summary = _clean(summary, field="summary", limit=200).strip()
    with transaction.atomic():
        book = Runbook.objects.select_for_update().filter(model=model).first()
        if book is None:
            book = Runbook(model=model, tenant_id=model.tenant_id, title=f"{model.name} runbook")
        book = _save(book, actor=actor, body=body, title=book.title, summary=summary,
                     expected_revision=expected_revision, action="runbook.saved")
        _evaluate_on_commit(model)
    return book


def save_platform_runbook(slug: str | None, *, actor, title, body, summary: str = "",
                          expected_revision: int | None = None) -> Runbook:
    """Create (slug None) or save a platform-wide runbook; platform engineers only."""
    require_platform(actor, doing="edit platform runbooks")
    title = _clean(title, field="title", limit=200, required=True).strip()
    body = _clean(body)
    summary = _clean(summary, field="summary", limit=200).strip()
    with transaction.atomic():
        if slug is None:
            new_slug = slugify(title)[:80]
            if not new_slug:
                raise ValidationFailed([("title", "invalid", "The title needs letters or digits.")])
            if Runbook.objects.filter(model__isnull=True, slug=new_slug).exists():
                raise Conflict(f"A platform runbook '{new_slug}' exists already.", code=RunbookErrorCode.DUPLICATE,
                               field="title")
            book = Runbook(slug=new_slug, title=title)
        else:
            book = Runbook.objects.select_for_update().filter(model__isnull=True, slug=slug).first()
            if book is None:
                raise NotFound("No such runbook.")
        return _save(book, actor=actor, body=body or PLATFORM_TEMPLATE, title=title, summary=summary,
                     expected_revision=expected_revision, action="runbook.platform_saved")


def _evaluate_on_commit(model) -> None:
    def enqueue():
        from worker.tasks import evaluate_checklist

        for version_id in model.versions.order_by("-version").values_list("pk", flat=True)[:20]:
            evaluate_checklist.delay(version_id)

    transaction.on_commit(enqueue)
