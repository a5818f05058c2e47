"""Demo data for `make run` (SPEC §9): two teams, four people, real MLflow models.

`seed()` is idempotent: it looks before it writes, in MLflow (how many versions each
registered model has) and in Slipway (teams, users, models, imported versions, decided
checklist items), so re-running it adds nothing twice and never overwrites what someone
changed in the demo. Versions go through the real paths: logged as genuine pyfunc
models into the configured MLflow store, imported with `registry.services.import_version`,
attested with `readiness.services.attest`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import warnings
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from apps.core.audit import audit_context
from apps.core.models import AuditSource
from apps.readiness.choices import ItemStatus
from apps.readiness.services import attest, get_item
from apps.registry import mlflow_client
from apps.registry.models import Model, ModelVersion
from apps.registry.services import create_model, import_version
from apps.tenancy.choices import Role
from apps.tenancy.models import Membership, Tenant, User

DEMO_PASSWORD = "slipway-demo"
EXPERIMENT = "slipway-demo"


@dataclass(frozen=True)
class TeamSpec:
    slug: str
    name: str
    gpu_quota: int
    monthly_budget_usd: Decimal


@dataclass(frozen=True)
class UserSpec:
    username: str
    display_name: str
    team: str | None
    role: str | None
    is_platform: bool = False

    @property
    def label(self) -> str:
        if self.is_platform:
            return "platform engineer"
        return f"{Role(self.role).label.lower()}, {self.team}"


@dataclass(frozen=True)
class VersionSpec:
    seed: int
    dataset_version: str
    reproducible: bool = True  # False: no image digest and no random seed → checklist fails
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSpec:
    team: str
    name: str
    author: str  # the data scientist who registers it
    description: str
    owner: str
    oncall: str
    sla_p99_ms: int
    floor: float
    versions: tuple[VersionSpec, ...]
    # (version number, checklist key, evidence) attested by the author
    attestations: tuple[tuple[int, str, str], ...] = ()


TEAMS = (
    TeamSpec("recsys", "Recommendations", gpu_quota=16, monthly_budget_usd=Decimal("25000")),
    TeamSpec("search", "Search", gpu_quota=8, monthly_budget_usd=Decimal("12000")),
)

USERS = (
    UserSpec("ada", "Ada Lovelace", "recsys", Role.DATA_SCIENTIST),
    UserSpec("vera", "Vera Rubin", "recsys", Role.VIEWER),
    UserSpec("grace", "Grace Hopper", "search", Role.DATA_SCIENTIST),
    UserSpec("linus", "Linus Torvalds", None, None, is_platform=True),
)

MODELS = (
    ModelSpec(
        team="recsys", name="ctr-ranker", author="ada",
        description="Ranks candidate items by predicted click-through rate for the home feed.",
        owner="ada@example.com", oncall="#recsys-oncall", sla_p99_ms=150, floor=0.7,
        versions=(
            VersionSpec(11, "clicks-2026-09-01", params={"learning_rate": "0.5", "epochs": "200"}),
            VersionSpec(12, "clicks-2026-10-01", params={"learning_rate": "0.5", "epochs": "200"}),
            # Logged from a notebook: no container image, no seed recorded.
            VersionSpec(13, "clicks-2026-11-01", reproducible=False, params={"learning_rate": "0.5"}),
        ),
        attestations=(
            (2, "fallback", "Falls back to popularity ranking: docs/recsys/ctr-ranker.md#fallback"),
            (2, "bias_review", "Fairness review RR-2026-41 signed off on 2026-10-14."),
        ),
    ),
    ModelSpec(
        team="recsys", name="two-tower-retrieval", author="ada",
        description="Retrieves the top 500 candidates per user from the item embedding index.",
        owner="ada@example.com", oncall="#recsys-oncall", sla_p99_ms=120, floor=0.65,
        versions=(
            VersionSpec(21, "interactions-2026-10-01", params={"embedding_dim": "64"}),
            VersionSpec(22, "interactions-2026-11-01", params={"embedding_dim": "128"}),
        ),
        attestations=((2, "fallback", "Serves the cached candidate set from the previous day when down."),),
    ),
    ModelSpec(
        team="search", name="query-intent", author="grace",
        description="Classifies search queries into navigational, informational and transactional intent.",
        owner="grace@example.com", oncall="#search-oncall", sla_p99_ms=100, floor=0.7,
        versions=(
            VersionSpec(31, "queries-2026-10-15", params={"max_ngram": "2"}),
            VersionSpec(32, "queries-2026-11-15", params={"max_ngram": "3"}),
        ),
        attestations=((1, "bias_review", "Reviewed for language bias: search/reviews/query-intent-v1.pdf"),),
    ),
)


@dataclass
class SeedReport:
    """What one `seed()` run created (zeros on a re-run)."""

    teams: int = 0
    users: int = 0
    models: int = 0
    mlflow_versions: int = 0
    imported_versions: int = 0
    attestations: int = 0

    def summary(self) -> str:
        return (f"created {self.teams} teams, {self.users} users, {self.models} models, "
                f"logged {self.mlflow_versions} MLflow versions, imported {self.imported_versions}, "
                f"attested {self.attestations} checklist items")


def _hex(*parts: object, length: int = 40) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:length]


def _mlflow_metadata(model: ModelSpec, number: int, spec: VersionSpec) -> tuple[dict, dict]:
    """Tags and params of a training run as a CI pipeline would record them."""
    tags = {
        "git_commit": _hex(model.name, number, "commit"),
        "dataset_version": spec.dataset_version,
        "data_validation": "passed",
        "team": model.team,
    }
    params = {"n_features": "4", **spec.params}
    if spec.reproducible:
        tags["image_digest"] = "sha256:" + _hex(model.name, number, "image", length=64)
        params["random_seed"] = str(spec.seed)
    return tags, params


def _mlflow_version_count(name: str) -> int:
    try:
        return len(mlflow_client.list_versions(name))
    except mlflow_client.MlflowNotFound:
        return 0


def ensure_mlflow_versions(model: ModelSpec) -> int:
    """Log the model's missing versions into MLflow; returns how many were logged."""
    existing = _mlflow_version_count(model.name)
    logged = 0
    with _quiet_mlflow():
        from apps.registry.mlflow_seed import log_pyfunc_version

        for number, spec in enumerate(model.versions, start=1):
            if number <= existing:
                continue
            tags, params = _mlflow_metadata(model, number, spec)
            log_pyfunc_version(settings.MLFLOW_TRACKING_URI, settings.MLFLOW_ARTIFACT_ROOT, model.name,
                               metrics={}, params=params, tags=tags, seed=spec.seed, experiment=EXPERIMENT)
            logged += 1
    return logged


@contextlib.contextmanager
def _quiet_mlflow():
    """MLflow narrates every logged model (logging, warnings and bare prints to stderr);
    the seed prints its own summary. Errors still raise."""
    import mlflow  # noqa: F401 - configures its loggers on first import; quiet them after

    logger = logging.getLogger("mlflow")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(previous)


def _ensure_people(report: SeedReport) -> tuple[dict[str, Tenant], dict[str, User]]:
    teams: dict[str, Tenant] = {}
    for spec in TEAMS:
        team, created = Tenant.objects.get_or_create(
            slug=spec.slug, defaults={"name": spec.name, "gpu_quota": spec.gpu_quota,
                                      "monthly_budget_usd": spec.monthly_budget_usd})
        teams[spec.slug] = team
        report.teams += created
    users: dict[str, User] = {}
    for spec in USERS:
        user = User.objects.filter(username=spec.username).first()
        if user is None:
            user = User.objects.create_user(username=spec.username, password=DEMO_PASSWORD,
                                            email=f"{spec.username}@example.com", display_name=spec.display_name,
                                            is_platform=spec.is_platform)
            report.users += 1
        if spec.team:
            Membership.objects.get_or_create(user=user, tenant=teams[spec.team], defaults={"role": spec.role})
        users[spec.username] = user
    return teams, users


def seed(*, log=print) -> SeedReport:
    """Create the demo teams, people, MLflow models and their Slipway mirrors (idempotent)."""
    report = SeedReport()
    with transaction.atomic():
        teams, users = _ensure_people(report)

    for spec in MODELS:
        author = users[spec.author]
        model = Model.objects.filter(tenant=teams[spec.team], name=spec.name).first()
        wanted = set(range(1, len(spec.versions) + 1))
        complete = model is not None and wanted <= set(model.versions.values_list("version", flat=True))
        # A model whose demo versions are all imported came from MLflow already: skip the
        # (slow) MLflow round trips, so a restart of `make run` seeds in about a second.
        if not complete:
            # MLflow first (slow, outside any transaction), then Slipway.
            logged = ensure_mlflow_versions(spec)
            report.mlflow_versions += logged
            if logged:
                log(f"  MLflow: logged {logged} version(s) of {spec.name}")
            if model is None:
                model = create_model(teams[spec.team], actor=author, name=spec.name, description=spec.description,
                                     mlflow_name=spec.name, owner=spec.owner, oncall=spec.oncall,
                                     sla_p99_ms=spec.sla_p99_ms, primary_metric="auc",
                                     primary_metric_floor=spec.floor)
                report.models += 1
            known = set(model.versions.values_list("version", flat=True))
            for number in mlflow_client.list_versions(model.mlflow_name):
                if number not in known:
                    import_version(model, actor=author, mlflow_version=number)
                    report.imported_versions += 1
        for number, key, evidence in spec.attestations:
            version = ModelVersion.objects.filter(model=model, version=number).first()
            if version is None:
                continue
            item = get_item(version, key)
            if item.decided_by_id is None and item.status == ItemStatus.PENDING:
                attest(item, actor=author, status=ItemStatus.PASS, evidence=evidence)
                report.attestations += 1
    __import__("apps.drift.demo", fromlist=["seed_drift"]).seed_drift(log=log)  # one drifting model (apps.drift)
    __import__("apps.costs.demo", fromlist=["seed_cost_history"]).seed_cost_history(log=log)  # 35 days (apps.costs)
    return report


def seed_as_cli(*, log=print) -> SeedReport:
    """`seed()` with audit events marked as coming from the command line."""
    with audit_context(source=AuditSource.CLI):
        return seed(log=log)


def logins() -> list[tuple[str, str]]:
    """(username, description) of every demo login, in the order `make run` prints them."""
    return [(spec.username, spec.label) for spec in USERS]


def banner(url: str) -> str:
    """The box `make run` prints: where the portal is and who to sign in as."""
    url = url.rstrip("/")
    width = max(len(name) for name, _ in logins())
    lines = [
        f"Slipway is starting at  {url}/",
        f"Sign in with password   {DEMO_PASSWORD}   as:",
        *(f"    {name:<{width}}  {label}" for name, label in logins()),
        "API docs /api/docs/   health /readyz   metrics /metrics",
        "Ctrl-C stops web, worker and beat together.",
    ]
    rule = "=" * (max(len(line) for line in lines) + 4)
    return "\n".join([rule, *(f"  {line}" for line in lines), rule])
