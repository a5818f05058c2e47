"""Schemathesis over the whole OpenAPI schema (/api/schema/) against live_server, as each role.

Every operation in the schema is fuzzed with Bearer tokens of a platform engineer (linus), a
data scientist (ada), a viewer (vera) and another team's data scientist (grace), with a fixed
seed (hypothesis `derandomize`), and every answer must be:
  - no server error (5xx),
  - conformant to the response schema the OpenAPI document declares for its status,
  - free of tracebacks and SQL ("Traceback", "SELECT ", "psycopg", "sqlite3").
The figures (cases per role, failures by kind) are printed; run with -s to see them.
"""

from __future__ import annotations

import time
from collections import Counter

import hypothesis
import pytest
import requests
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings

from apps.deployments import services as deployments
from apps.tenancy.models import Tenant
from apps.tenancy.services import issue_token
from tests import factories

MAX_EXAMPLES = 5  # per operation and role: 62 operations × 4 roles × 5 ≈ 1,240 cases in about two minutes
MIN_CASES = 1000
LEAK_SIGNS = ("Traceback", "SELECT ", "psycopg", "sqlite3")
CONFIG = {"instance_type": "g5.xlarge", "min_replicas": 1, "soak_seconds": 60,
          "image": "registry.local/fuzz@sha256:" + "c" * 64}


def seed_world(recsys, search, ada, grace):
    """A few real objects with small ids, so generated ids sometimes hit something."""
    Tenant.objects.update(rate_limit_per_minute=1_000_000)
    for team, owner in ((recsys, ada), (search, grace)):
        for n in range(2):
            model = factories.model(team, f"{team.slug}-fuzz-{n}")
            version = factories.version(model, 1, artifact_digest="sha256:" + "1" * 64)
            version.checklist.update(status="pass")
            deployments.request_deployment(version, environment="staging", config=CONFIG, actor=owner)


def check_functions():
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    return [not_a_server_error, response_schema_conformance]


@pytest.mark.timeout(600)
def test_schemathesis_every_operation_as_every_role(live_server, settings, recsys, search, ada, vera, grace, linus):
    import schemathesis

    settings.SLIPWAY_TOKEN_RATE_PER_MINUTE = 1_000_000
    seed_world(recsys, search, ada, grace)
    users = {"platform": linus, "data_scientist": ada, "viewer": vera, "other_team": grace}
    tokens = {role: issue_token(user, actor=user, name=f"fuzz-{role}").secret for role, user in users.items()}

    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    operations = [result.ok() for result in schema.get_all_operations()]
    checks = check_functions()
    session = requests.Session()

    cases: Counter = Counter()
    failures: list[tuple[str, str, str, str]] = []  # (role, operation, kind, detail)
    statuses: Counter = Counter()
    reissued = Counter()
    started = time.monotonic()

    def fuzz(role, user, operation) -> None:
        label = f"{operation.method.upper()} {operation.path}"

        @hsettings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
                   phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                   verbosity=hypothesis.Verbosity.quiet)
        @given(case=operation.as_strategy())
        def run(case):
            headers = {"Authorization": f"Bearer {tokens[role]}"}
            response = case.call(base_url=live_server.url, session=session, headers=headers, timeout=30)
            cases[role] += 1
            statuses[response.status_code // 100] += 1
            text = response.text
            for sign in LEAK_SIGNS:
                if sign in text:
                    failures.append((role, label, "leak", f"{sign!r} in a {response.status_code} body"))
            try:
                case.validate_response(response, checks=checks, headers=headers)
            except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis Failure / FailureGroup
                for failure in getattr(exc, "exceptions", [exc]):
                    kind = "server_error" if response.status_code >= 500 else "schema"
                    failures.append((role, label, kind, f"{response.status_code}: {str(failure)[:400]}"))
            if response.status_code == 401:
                # A fuzzed DELETE /tokens/{id}/ revoked this role's own token: carry on with a new one.
                tokens[role] = issue_token(user, actor=user, name=f"fuzz-{role}").secret
                reissued[role] += 1

        run()

    for role, user in users.items():
        for operation in operations:
            fuzz(role, user, operation)

    elapsed = time.monotonic() - started
    kinds = Counter(kind for _, _, kind, _ in failures)
    total = sum(cases.values())
    print(f"\nschemathesis: {len(operations)} operations, {total} cases in {elapsed:.0f} s; per role "
          f"{dict(cases)}; status classes {dict(sorted(statuses.items()))}; tokens re-issued {dict(reissued)}; "
          f"failures by kind: server_error={kinds['server_error']}, schema={kinds['schema']}, "
          f"leak={kinds['leak']}")
    distinct = Counter((kind, label, " ".join(detail.split())[:160]) for _, label, kind, detail in failures)
    for (kind, label, detail), count in distinct.most_common(25):
        print(f"  {count:3}× {kind:12} {label}: {detail}")
    assert total >= MIN_CASES, f"only {total} cases generated"
    assert not failures, f"{len(failures)} failures: {dict(kinds)}"
