"""Writing audit events.

`record()` is called by services inside their transaction, so an audit row exists
exactly when the change it describes was committed. The request's source (UI or API)
and client address are carried in a context variable set by `RequestSourceMiddleware`;
the worker sets its own with `audit_context(source="worker")`.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from apps.core.models import AuditEvent, AuditSource


@dataclass(frozen=True)
class AuditContext:
    source: str = AuditSource.SYSTEM
    ip_address: str | None = None


_context: contextvars.ContextVar[AuditContext] = contextvars.ContextVar("slipway_audit", default=AuditContext())  # noqa: B039 (frozen, immutable)


@contextlib.contextmanager
def audit_context(*, source: str, ip_address: str | None = None):
    token = _context.set(AuditContext(source=source, ip_address=ip_address))
    try:
        yield
    finally:
        _context.reset(token)


def current_source() -> str:
    return _context.get().source


def _clean(value: Any) -> Any:
    """PostgreSQL stores neither NaN/inf in jsonb nor NUL bytes in text: keep the event writable."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.replace("\x00", "\N{SYMBOL FOR NULL}")
    if isinstance(value, dict):
        return {_clean(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    return _clean(json.loads(json.dumps(value, cls=DjangoJSONEncoder)))


def record(action: str, *, actor=None, tenant=None, obj=None, before: dict | None = None,
           after: dict | None = None, object_repr: str | None = None, source: str | None = None,
           actor_label: str | None = None) -> AuditEvent:
    """Append one audit event. `actor=None` means the system or the worker did it."""
    ctx = _context.get()
    tenant_id = getattr(tenant, "pk", tenant)
    if actor is not None and getattr(actor, "is_authenticated", False):
        label = actor_label or actor.get_username()
        actor_id = actor.pk
    else:
        label = actor_label or ("worker" if (source or ctx.source) == AuditSource.WORKER else "system")
        actor_id = None
    return AuditEvent.objects.create(
        actor_id=actor_id,
        actor_label=_clean(label)[:150],
        tenant_id=tenant_id,
        action=action,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=_clean(object_repr if object_repr is not None else (str(obj) if obj is not None else ""))[:200],
        before=_jsonable(before),
        after=_jsonable(after),
        source=source or ctx.source,
        ip_address=ctx.ip_address,
    )
