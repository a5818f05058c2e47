"""The checklist item `runbook` (registered into apps.readiness.evaluators.EVALUATORS on load)."""

from __future__ import annotations


def runbook(version):
    """Pass when the model's runbook exists with every required written section filled."""
    from apps.readiness.choices import ItemStatus
    from apps.runbooks.models import Runbook
    from apps.runbooks.sections import missing_sections

    book = Runbook.objects.filter(model_id=version.model_id).first()
    if book is None:
        return None  # pending: nobody has written it yet
    missing = missing_sections(book.body)
    if missing:
        return ItemStatus.FAIL, ("The runbook (revision " f"{book.revision}) leaves required sections unfilled: "
                                 + ", ".join(missing) + ".")
    return ItemStatus.PASS, f"Runbook revision {book.revision} fills every required section."


def register() -> None:
    from apps.readiness.evaluators import EVALUATORS

    EVALUATORS.setdefault("runbook", runbook)
