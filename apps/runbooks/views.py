"""Runbook pages: the index (team + platform-wide), view, edit, history and diff.

Model runbooks are addressed by model id, platform-wide ones by slug; both share the views
below through a small `Subject`. Writes go through `runbooks.services` (the API's functions).
Rendered Markdown is sanitised (sections.render) before it is marked safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views import View

from apps.core.errors import DomainError
from apps.core.ui import ScopedViewMixin, add_domain_errors, raise_for_access, status_for
from apps.registry.models import Model
from apps.runbooks import sections, services
from apps.runbooks.filtersets import RunbookIndexFilterSet
from apps.runbooks.forms import PlatformRunbookForm, RunbookForm
from apps.runbooks.models import Runbook, RunbookRevision
from apps.runbooks.serializers import full_markdown


@dataclass
class Subject:
    """What a runbook page is about: a model's runbook (maybe not written yet) or a platform one."""

    book: Runbook | None
    model: Model | None
    can_edit: bool

    @property
    def title(self) -> str:
        return f"{self.model.name} runbook" if self.model else self.book.title

    @property
    def body(self) -> str:
        return self.book.body if self.book else sections.TEMPLATE

    @property
    def revision(self) -> int:
        return self.book.revision if self.book else 0

    def url(self, name: str = "") -> str:
        if self.model is not None:
            return reverse(f"runbooks:model_runbook{name}", args=[self.model.pk])
        return reverse(f"runbooks:platform_runbook{name}", args=[self.book.slug])

    def markdown(self) -> str:
        return full_markdown(self.model, self.body) if self.model else f"# {self.book.title}\n\n{self.body}"


class _RunbookPage(ScopedViewMixin):
    def subject(self, *, pk: int | None = None, slug: str | None = None) -> Subject:
        user = self.request.user
        if pk is not None:
            model = self.get_scoped_or_404(self.scoped(Model).select_related("tenant"), pk=pk)
            book = Runbook.objects.filter(model=model).select_related("updated_by").first()
            return Subject(book, model, user.can("change", model.tenant_id))
        book = self.get_scoped_or_404(self.scoped(Runbook).filter(model__isnull=True).select_related("updated_by"),
                                      slug=slug)
        return Subject(book, None, bool(user.is_platform))

    def context(self, subject: Subject, **extra) -> dict:
        return {"subject": subject, "model": subject.model, "book": subject.book, **extra}


class RunbookIndexView(_RunbookPage, View):
    """Every visible model with its runbook state, and the platform-wide runbooks."""

    def get(self, request):
        fs = self.filterset(RunbookIndexFilterSet, self.scoped(Model), labels={"q": "Model"},
                            placeholders={"q": "Filter by model name…"})
        models = list(fs.qs.select_related("tenant").order_by("tenant__slug", "name")[:500])
        books = {b.model_id: b for b in Runbook.objects.filter(model__in=models).select_related("updated_by")}
        rows = []
        for m in models:
            book = books.get(m.pk)
            missing = sections.missing_sections(book.body) if book else list(sections.REQUIRED)
            rows.append({"model": m, "book": book, "missing": missing, "complete": book is not None and not missing})
        platform = self.scoped(Runbook).filter(model__isnull=True).order_by("title")
        return self.render_page("runbooks/runbook_index.html", {"filters": fs.form, "rows": rows,
                                                                "platform": platform}, partial="results")


class RunbookDetailView(_RunbookPage, View):
    def get(self, request, pk: int | None = None, slug: str | None = None):
        subject = self.subject(pk=pk, slug=slug)
        html = mark_safe(sections.render(subject.markdown()))  # noqa: S308 — nh3-sanitised
        missing = sections.missing_sections(subject.body) if subject.model else []
        return self.render_page("runbooks/runbook_detail.html", self.context(subject, html=html, missing=missing))


class RunbookEditView(_RunbookPage, View):
    template = "runbooks/runbook_form.html"

    def _form_class(self, subject: Subject):
        return RunbookForm if subject.model else PlatformRunbookForm

    def _guard(self, subject: Subject) -> None:
        if not subject.can_edit:
            raise PermissionDenied("Your role cannot edit this runbook; viewers only read."
                                   if subject.model else "Only platform engineers edit platform runbooks.")

    def get(self, request, pk: int | None = None, slug: str | None = None):
        subject = self.subject(pk=pk, slug=slug)
        self._guard(subject)
        initial = {"body": subject.body, "expected_revision": subject.revision}
        if subject.model is None:
            initial["title"] = subject.book.title
        form = self._form_class(subject)(initial=initial)
        return self.render_page(self.template, self.context(subject, form=form, preview=None,
                                                            generated=self._generated(subject)))

    def post(self, request, pk: int | None = None, slug: str | None = None):
        subject = self.subject(pk=pk, slug=slug)
        self._guard(subject)
        form = self._form_class(subject)(request.POST)
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                if subject.model is not None:
                    services.save_runbook(subject.model, actor=request.user, body=data["body"],
                                          summary=data["summary"], expected_revision=data.get("expected_revision"))
                else:
                    services.save_platform_runbook(subject.book.slug, actor=request.user, title=data["title"],
                                                   body=data["body"], summary=data["summary"],
                                                   expected_revision=data.get("expected_revision"))
            except DomainError as exc:
                raise_for_access(exc)
                if exc.field == "expected_revision":
                    exc.field = None  # a hidden field: show the conflict above the form
                add_domain_errors(form, exc)
                status = status_for(exc)
            else:
                messages.success(request, "Runbook saved. Every save is kept in its history.")
                return HttpResponseRedirect(subject.url(""))
        return self.render_page(self.template, self.context(subject, form=form, generated=self._generated(subject)),
                                status=status)

    def _generated(self, subject: Subject):
        if subject.model is None:
            return None
        return mark_safe(sections.render(sections.generated(subject.model)))  # noqa: S308 — nh3-sanitised


class RunbookHistoryView(_RunbookPage, View):
    def get(self, request, pk: int | None = None, slug: str | None = None):
        subject = self.subject(pk=pk, slug=slug)
        revisions = list(subject.book.revisions.select_related("created_by").order_by("-number")) if subject.book else []
        return self.render_page("runbooks/runbook_history.html", self.context(subject, revisions=revisions))


class RunbookDiffView(_RunbookPage, View):
    """`?from=N&to=M` (defaults: the latest revision against the one before)."""

    def get(self, request, pk: int | None = None, slug: str | None = None):
        subject = self.subject(pk=pk, slug=slug)
        if subject.book is None:
            raise Http404("This runbook has no saved revisions yet.")
        latest = subject.book.revision

        def number(name: str, default: int) -> int:
            raw = request.GET.get(name)
            if raw in (None, ""):
                return default
            if not str(raw).isascii() or not str(raw).isdigit() or len(str(raw)) > 9:
                raise Http404("No such revision.")
            return int(raw)

        new_no = number("to", latest)
        old_no = number("from", max(new_no - 1, 0))
        revs = {r.number: r for r in RunbookRevision.objects.filter(runbook=subject.book, number__in=[old_no, new_no])
                .select_related("created_by")}
        new = revs.get(new_no)
        old = revs.get(old_no)
        if new is None or (old_no and old is None):
            raise Http404("No such revision.")
        lines = sections.diff(old.body if old else "", new.body)
        added = sum(1 for line in lines if line.kind == "add")
        removed = sum(1 for line in lines if line.kind == "del")
        return self.render_page("runbooks/runbook_diff.html", self.context(
            subject, old=old, new=new, lines=lines, added=added, removed=removed,
            numbers=list(range(latest, 0, -1))))
