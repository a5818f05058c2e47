"""Label and field selectors in the API server's string syntax, and LabelSelector objects."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from devcluster.errors import bad_request

Requirement = Callable[[Mapping[str, str]], bool]

_SET = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside a ``( ... )`` value set."""
    terms, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += ch
    terms.append(current)
    return [t for t in terms if t.strip()]


def parse_label_selector(text: str | None) -> Requirement:
    """Parse ``a=b,c!=d,e in (x,y),f notin (z),g,!h`` into a predicate over a labels mapping."""
    if not text or not text.strip():
        return lambda labels: True
    requirements: list[Requirement] = []
    for term in _split_terms(text):
        eq = _EQ.match(term)
        if eq:
            key, op, value = eq.groups()
            if op == "!=":
                requirements.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                requirements.append(lambda labels, k=key, v=value: labels.get(k) == v)
            continue
        st = _SET.match(term)
        if not st:
            raise bad_request(f"unable to parse requirement: found '{term.strip()}', expected: in, notin, =, ==, !=, or exists")
        negate, key, op, values = st.groups()
        if op:
            if negate:
                raise bad_request(f"unable to parse requirement: '{term.strip()}'")
            allowed = {v.strip() for v in values.split(",") if v.strip()}
            if op == "in":
                requirements.append(lambda labels, k=key, a=allowed: labels.get(k) in a)
            else:
                requirements.append(lambda labels, k=key, a=allowed: labels.get(k) not in a)
        elif negate:
            requirements.append(lambda labels, k=key: k not in labels)
        else:
            requirements.append(lambda labels, k=key: k in labels)
    return lambda labels: all(r(labels) for r in requirements)


def parse_field_selector(text: str | None) -> Callable[[dict[str, Any]], bool]:
    """Support the fields every kind supports: ``metadata.name`` and ``metadata.namespace``."""
    if not text or not text.strip():
        return lambda obj: True
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for term in _split_terms(text):
        match = re.match(r"^\s*([A-Za-z.]+)\s*(==|=|!=)\s*(.*?)\s*$", term)
        if not match or match.group(1) not in ("metadata.name", "metadata.namespace"):
            raise bad_request(f'field label not supported: "{term.strip()}"')
        field, op, value = match.groups()
        attr = field.split(".", 1)[1]

        def check(obj: dict[str, Any], a: str = attr, o: str = op, v: str = value) -> bool:
            actual = obj.get("metadata", {}).get(a, "")
            return actual != v if o == "!=" else actual == v

        checks.append(check)
    return lambda obj: all(c(obj) for c in checks)


def matches_label_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Evaluate a ``LabelSelector`` object (matchLabels + matchExpressions). An empty selector matches all."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def label_selector_string(selector: Mapping[str, Any] | None) -> str:
    """Render a ``LabelSelector`` object as the string form (``Scale.status.selector``)."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op in ("In", "NotIn"):
            parts.append(f"{key} {op.lower()} ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)
