"""From an environment's cluster settings to a `Cluster` (official client `ApiClient` underneath).

Settings dicts (an Environment stores one; `settings.SLIPWAY_CLUSTER` is the fallback):
  {"kind": "url", "url": "https://...", "token": "...", "verify_ssl": true, "ca_file": "/path/ca.crt"}
  {"kind": "url", "url": "https://...", "token_file": "/var/run/secrets/.../token", "refresh_after": 60}
  {"kind": "kubeconfig", "path": "~/.kube/config", "context": "prod"}
  {"kind": "eks", "cluster_name": "prod", "region": "us-east-1", "role_arn": "arn:aws:iam::...:role/..."}
Optional in all of them: "environment" (cost label), "gateway": {"name", "namespace"},
"extra_ingress_namespaces": [...], "max_attempts", "request_timeout": [connect, read].
With nothing configured the portal talks to the dev cluster at http://127.0.0.1:8001.

EKS authentication is the aws-iam-authenticator scheme: endpoint and CA from
`eks.describe_cluster`; bearer token `k8s-aws-v1.` + base64url(a pre-signed STS
GetCallerIdentity URL carrying the signed header `x-k8s-aws-id: <cluster>`, valid 60 s to
present). EKS honours a token for 15 minutes; we mint a new one after `refresh_after`
(10 minutes) through the client's `refresh_api_key_hook` (called before every request), and
once more whenever the API server answers 401.

A `token_file` (a projected service-account token, or a file a credentials sidecar rotates) is
read the same way: again after `refresh_after` seconds (default 60) and whenever the API server
answers 401, so a rotated token is picked up without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from worker.cluster.client import Cluster, ClusterError
from worker.cluster.manifests import GatewayRef

DEFAULT_CLUSTER: dict[str, Any] = {"kind": "url", "url": "http://127.0.0.1:8001"}
EKS_TOKEN_PREFIX = "k8s-aws-v1."
EKS_CLUSTER_HEADER = "x-k8s-aws-id"
PRESIGN_EXPIRES_SECONDS = 60
TOKEN_LIFETIME_SECONDS = 15 * 60
DEFAULT_REFRESH_AFTER_SECONDS = 10 * 60
DEFAULT_FILE_REFRESH_SECONDS = 60.0

log = logging.getLogger(__name__)


@dataclass
class Connection:
    """An ApiClient plus how to get fresh credentials after a 401 (None: nothing to refresh)."""

    api_client: k8s.ApiClient
    refresh: Callable[[], bool] | None = None
    token_source: EksTokenSource | FileTokenSource | None = None


def configured_cluster() -> dict[str, Any]:
    """`settings.SLIPWAY_CLUSTER` (a dict or a JSON string), else the local dev cluster."""
    try:
        from django.conf import settings

        value = getattr(settings, "SLIPWAY_CLUSTER", None)
    except Exception:  # Django not configured (a script or a bare test): the local default applies.
        value = None
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else None
    return dict(value) if value else dict(DEFAULT_CLUSTER)


def _base_configuration() -> k8s.Configuration:
    cfg = k8s.Configuration()
    # Our own retry loop counts and paces every attempt; urllib3 must not retry behind its back.
    cfg.retries = False
    return cfg


def _set_bearer(cfg: k8s.Configuration, token: str) -> None:
    cfg.api_key["BearerToken"] = token
    cfg.api_key_prefix["BearerToken"] = "Bearer"


def _url_connection(settings: Mapping[str, Any]) -> Connection:
    url = settings.get("url")
    if not url:
        raise ValueError("cluster settings of kind 'url' need a 'url'")
    cfg = _base_configuration()
    cfg.host = str(url).rstrip("/")
    cfg.verify_ssl = bool(settings.get("verify_ssl", True))
    if settings.get("ca_file"):
        cfg.ssl_ca_cert = str(settings["ca_file"])
    if settings.get("token_file"):
        source = FileTokenSource(str(settings["token_file"]),
                                 refresh_after=float(settings.get("refresh_after", DEFAULT_FILE_REFRESH_SECONDS)))
        _set_bearer(cfg, source.token())  # the key must exist for auth_settings() to send it
        cfg.refresh_api_key_hook = source.hook
        return Connection(k8s.ApiClient(cfg), refresh=source.refresh, token_source=source)
    if settings.get("token"):
        _set_bearer(cfg, str(settings["token"]))
    return Connection(k8s.ApiClient(cfg))


class FileTokenSource:
    """A bearer token kept in a file that something else rotates; thread-safe, `clock` injectable."""

    def __init__(self, path: str, *, clock: Callable[[], float] = time.time,
                 refresh_after: float = DEFAULT_FILE_REFRESH_SECONDS) -> None:
        if refresh_after <= 0:
            raise ValueError("refresh_after must be positive")
        self.path = os.path.expanduser(path)
        self.refresh_after = refresh_after
        self.refreshes = 0  # reads of the file so far (tests and metrics)
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._read_at = 0.0

    def token(self) -> str:
        """The current token, read again once it is `refresh_after` old."""
        with self._lock:
            if self._token is None or self._clock() - self._read_at >= self.refresh_after:
                self._read()
            return self._token  # type: ignore[return-value]

    def refresh(self) -> bool:
        """Read the file now (after a 401): the token may have been rotated since the last read."""
        with self._lock:
            before = self._token
            self._read()
            log.info("cluster token re-read from %s after a 401 (%s)", self.path,
                     "rotated" if self._token != before else "unchanged")
        return True

    def _read(self) -> None:
        try:
            token = Path(self.path).read_text().strip()
        except OSError as exc:
            raise ClusterError(f"could not read the cluster token file: {exc}", reason="TokenFile",
                               transient=True) from exc
        if not token:
            raise ClusterError(f"the cluster token file {self.path} is empty", reason="TokenFile", transient=True)
        self._token = token
        self._read_at = self._clock()
        self.refreshes += 1

    def hook(self, cfg: k8s.Configuration) -> None:
        """`Configuration.refresh_api_key_hook`: runs before every request."""
        _set_bearer(cfg, self.token())


def _kubeconfig_connection(settings: Mapping[str, Any]) -> Connection:
    path = settings.get("path") or None
    if path:
        path = os.path.expanduser(str(path))
    context = settings.get("context") or None
    cfg = _base_configuration()
    k8s_config.load_kube_config(config_file=path, context=context, client_configuration=cfg, persist_config=False)
    cfg.retries = False

    def reload() -> bool:
        # Exec plugins (e.g. `aws eks get-token`) and rotated tokens: reading the kubeconfig again
        # gets fresh credentials into the same Configuration the ApiClient uses.
        k8s_config.load_kube_config(config_file=path, context=context, client_configuration=cfg,
                                    persist_config=False)
        cfg.retries = False
        return True

    return Connection(k8s.ApiClient(cfg), refresh=reload)


class EksTokenSource:
    """Mints and renews EKS bearer tokens; thread-safe; `clock` injectable for tests."""

    def __init__(self, cluster_name: str, region: str, *, role_arn: str | None = None, session: Any = None,
                 clock: Callable[[], float] = time.time,
                 refresh_after: float = DEFAULT_REFRESH_AFTER_SECONDS) -> None:
        if not 0 < refresh_after < TOKEN_LIFETIME_SECONDS:
            raise ValueError("refresh_after must be shorter than the 15-minute token lifetime")
        self.cluster_name = cluster_name
        self.region = region
        self.role_arn = role_arn
        self.refresh_after = refresh_after
        self.refreshes = 0  # tokens minted so far (tests and metrics)
        self._base_session = session
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._issued_at = 0.0

    def session(self) -> Any:
        """A boto3 session with the role assumed when one is configured (fresh credentials each time)."""
        import boto3

        base = self._base_session or boto3.session.Session(region_name=self.region)
        if not self.role_arn:
            return base
        creds = base.client("sts", region_name=self.region).assume_role(
            RoleArn=self.role_arn, RoleSessionName="slipway")["Credentials"]
        return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                     aws_secret_access_key=creds["SecretAccessKey"],
                                     aws_session_token=creds["SessionToken"], region_name=self.region)

    def mint(self) -> str:
        """A new token: the pre-signed GetCallerIdentity URL, base64url-encoded without padding."""
        sts = self.session().client("sts", region_name=self.region)
        cluster_name = self.cluster_name

        def add_cluster_header(request: Any, **_: Any) -> None:
            # Signed into the URL, so the token is only good for this cluster.
            request.headers[EKS_CLUSTER_HEADER] = cluster_name

        sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
        url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=PRESIGN_EXPIRES_SECONDS,
                                         HttpMethod="GET")
        return EKS_TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")

    def token(self) -> str:
        """The current token, renewed once it is `refresh_after` old."""
        with self._lock:
            if self._token is None or self._clock() - self._issued_at >= self.refresh_after:
                self._renew()
            return self._token  # type: ignore[return-value]

    def refresh(self) -> bool:
        """Mint a new token now (after a 401)."""
        with self._lock:
            self._renew()
        return True

    def _renew(self) -> None:
        try:
            self._token = self.mint()
        except (BotoCoreError, ClientError) as exc:
            raise _aws_error("could not mint an EKS token", exc, self.cluster_name) from exc
        self._issued_at = self._clock()
        self.refreshes += 1

    def hook(self, cfg: k8s.Configuration) -> None:
        """`Configuration.refresh_api_key_hook`: runs before every request."""
        _set_bearer(cfg, self.token())


def _aws_error(what: str, exc: Exception, cluster_name: str) -> ClusterError:
    """AWS failures as ClusterError: missing credentials or throttling are worth retrying later."""
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(exc, ClientError) else None
    transient = not isinstance(exc, ClientError) or code in {"Throttling", "ThrottlingException",
                                                              "RequestLimitExceeded", "ServiceUnavailable"}
    return ClusterError(f"{what}: {exc}", status=status, reason=code, kind="EKSCluster", name=cluster_name,
                        transient=transient)


def _ca_file(ca_data_b64: str) -> str:
    """Write the cluster CA once per content (content-addressed, so repeated connects reuse it)."""
    pem = base64.b64decode(ca_data_b64 + "=" * (-len(ca_data_b64) % 4))
    folder = Path(tempfile.gettempdir()) / "slipway-eks-ca"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{hashlib.sha256(pem).hexdigest()}.crt"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.replace(tmp, path)  # atomic: concurrent workers never read a half-written CA
    return str(path)


def _eks_connection(settings: Mapping[str, Any], *, session: Any = None,
                    clock: Callable[[], float] = time.time) -> Connection:
    name, region = settings.get("cluster_name"), settings.get("region")
    if not name or not region:
        raise ValueError("cluster settings of kind 'eks' need 'cluster_name' and 'region'")
    source = EksTokenSource(str(name), str(region), role_arn=settings.get("role_arn") or None, session=session,
                            clock=clock, refresh_after=float(settings.get("refresh_after", DEFAULT_REFRESH_AFTER_SECONDS)))
    try:
        cluster = source.session().client("eks", region_name=region).describe_cluster(name=name)["cluster"]
    except (BotoCoreError, ClientError) as exc:
        raise _aws_error("eks.describe_cluster failed", exc, str(name)) from exc
    cfg = _base_configuration()
    cfg.host = cluster["endpoint"].rstrip("/")
    cfg.verify_ssl = True
    cfg.ssl_ca_cert = _ca_file(cluster["certificateAuthority"]["data"])
    _set_bearer(cfg, source.token())  # the key must exist for auth_settings() to send it
    cfg.refresh_api_key_hook = source.hook
    return Connection(k8s.ApiClient(cfg), refresh=source.refresh, token_source=source)


def connect(settings: Mapping[str, Any] | None = None, *, session: Any = None,
            clock: Callable[[], float] = time.time) -> Connection:
    """Build the ApiClient for a settings dict (None: `configured_cluster()`)."""
    settings = configured_cluster() if settings is None else settings
    kind = settings.get("kind")
    if kind == "url":
        return _url_connection(settings)
    if kind == "kubeconfig":
        return _kubeconfig_connection(settings)
    if kind == "eks":
        return _eks_connection(settings, session=session, clock=clock)
    raise ValueError(f"unknown cluster kind {kind!r}: use 'url', 'kubeconfig' or 'eks'")


def get_cluster(settings: Mapping[str, Any] | None = None, *, environment: str | None = None, session: Any = None,
                clock: Callable[[], float] = time.time, **options: Any) -> Cluster:
    """A `Cluster` for a settings dict (None: `settings.SLIPWAY_CLUSTER`, else the dev cluster).

    `options` go to `Cluster(...)` (max_attempts, sleep, backoff_base, ...) and override the dict's.
    """
    settings = configured_cluster() if settings is None else settings
    conn = connect(settings, session=session, clock=clock)
    kwargs: dict[str, Any] = {}
    if settings.get("gateway"):
        kwargs["gateway"] = GatewayRef(**settings["gateway"])
    if settings.get("extra_ingress_namespaces"):
        kwargs["extra_ingress_namespaces"] = tuple(settings["extra_ingress_namespaces"])
    if settings.get("max_attempts"):
        kwargs["max_attempts"] = int(settings["max_attempts"])
    if settings.get("request_timeout"):
        kwargs["request_timeout"] = tuple(float(x) for x in settings["request_timeout"])
    kwargs["environment"] = environment if environment is not None else str(settings.get("environment", ""))
    kwargs.update(options)
    return Cluster(conn.api_client, refresh_credentials=conn.refresh, **kwargs)
