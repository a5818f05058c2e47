"""Deployment configuration: normalisation, validation with field errors, hashing.

The normalised config has every default filled in, so its hash changes exactly when
something that matters changes (an approval binds to that hash).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from apps.core.errors import ValidationFailed
from apps.deployments.choices import Strategy
from apps.deployments.models import Environment, InstanceType

MAX_REPLICAS = 100
MAX_STEPS = 20
MAX_SOAK_SECONDS = 24 * 3600
_WHOLE = re.compile(r"-?[0-9]{1,12}")

FIELDS = ("instance_type", "gpus_per_replica", "min_replicas", "max_replicas", "spot_percent", "strategy",
          "steps", "soak_seconds", "sla_p99_ms", "autoscaling", "image")


@dataclass
class _Errors:
    items: list

    def add(self, field: str, code: str, message: str) -> None:
        self.items.append((f"config.{field}", code, message))


def _int(errors: _Errors, raw: dict, key: str, default: int | None, *, low: int, high: int) -> int | None:
    value = raw.get(key)
    if value is None:  # absent or an explicit null: the default (a None reached the GPU arithmetic: 500)
        value = default
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        # ASCII digits only, bounded: str.isdigit() accepts "²" and int() refuses it, and
        # int() refuses strings of more than 4300 digits — both were a 500.
        if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
            value = int(value.strip())
        else:
            errors.add(key, "invalid", f"{key} must be a whole number.")
            return None
    if value < low or value > high:
        errors.add(key, "out_of_range", f"{key} must be between {low} and {high}, not {value}.")
        return None
    return value


def normalize(raw: Any, *, environment: Environment, model, version, instance_types: dict[str, InstanceType]
              ) -> dict:
    """Validate `raw` and return the full config; raise ValidationFailed naming each field."""
    errors = _Errors([])
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationFailed([("config", "invalid", "config must be an object.")])
    unknown = sorted(set(raw) - set(FIELDS))
    for key in unknown:
        errors.add(str(key)[:50], "unknown_field", f"Unknown setting '{str(key)[:50]}'. Known: {', '.join(FIELDS)}.")

    name = raw.get("instance_type", "g5.xlarge" if instance_types.get("g5.xlarge") else None)
    instance = instance_types.get(name) if isinstance(name, str) else None
    if instance is None:
        errors.add("instance_type", "unknown_instance_type",
                   f"'{str(name)[:40]}' is not in the instance catalog." if name else "Choose an instance type.")
    default_gpus = 1 if instance is None or instance.gpus else 0
    gpus = _int(errors, raw, "gpus_per_replica", default_gpus, low=0, high=16)
    if instance is not None and gpus is not None and gpus > instance.gpus:
        errors.add("gpus_per_replica", "exceeds_instance",
                   f"{instance.name} has {instance.gpus} GPU(s); a replica cannot use {gpus}.")
    min_r = _int(errors, raw, "min_replicas", 1, low=1, high=MAX_REPLICAS)
    max_r = _int(errors, raw, "max_replicas", max(min_r or 1, 1), low=1, high=MAX_REPLICAS)
    if min_r is not None and max_r is not None and min_r > max_r:
        errors.add("max_replicas", "min_above_max", f"min_replicas ({min_r}) must be ≤ max_replicas ({max_r}).")
    spot = _int(errors, raw, "spot_percent", 0, low=0, high=100)
    strategy = raw.get("strategy", Strategy.CANARY)
    if strategy not in Strategy.values:
        errors.add("strategy", "invalid_choice", f"strategy must be one of {', '.join(Strategy.values)}.")
    steps = raw.get("steps", environment.default_steps)
    if not isinstance(steps, list) or not steps or len(steps) > MAX_STEPS or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in steps):
        errors.add("steps", "invalid", f"steps must be a list of 1-{MAX_STEPS} whole percentages, e.g. [5, 25, 50, 100].")
    elif any(s < 1 or s > 100 for s in steps):
        errors.add("steps", "out_of_range", "Each step is a percentage from 1 to 100.")
    elif any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        errors.add("steps", "not_increasing", f"Steps must increase: {steps}.")
    elif steps[-1] != 100:
        errors.add("steps", "must_end_at_100", f"The last step must be 100, not {steps[-1]}.")
    soak = _int(errors, raw, "soak_seconds", environment.default_soak_seconds, low=0, high=MAX_SOAK_SECONDS)
    if soak is not None and soak < environment.min_soak_seconds:
        errors.add("soak_seconds", "below_minimum_soak",
                   f"{environment.name} needs a soak of at least {environment.min_soak_seconds} s per step, not {soak}.")
    sla = _int(errors, raw, "sla_p99_ms", model.sla_p99_ms, low=1, high=600_000)
    autoscaling = raw.get("autoscaling", {})
    normalized_autoscaling = {"queue_depth": 10, "gpu_utilization": 70}
    if not isinstance(autoscaling, dict):
        errors.add("autoscaling", "invalid", "autoscaling must be an object with queue_depth and gpu_utilization.")
    else:
        for key in sorted(set(autoscaling) - {"queue_depth", "gpu_utilization"}):
            errors.add(f"autoscaling.{str(key)[:40]}", "unknown_field", "Known: queue_depth, gpu_utilization.")
        sub = _Errors([])
        qd = _int(sub, autoscaling, "queue_depth", 10, low=1, high=10_000)
        gu = _int(sub, autoscaling, "gpu_utilization", 70, low=1, high=100)
        for field, code, message in sub.items:
            errors.items.append((field.replace("config.", "config.autoscaling."), code, message))
        normalized_autoscaling = {"queue_depth": qd, "gpu_utilization": gu}
    image = raw.get("image") or version.image_digest or ""
    if not isinstance(image, str) or len(image) > 300 or "\x00" in image:
        errors.add("image", "invalid", "image must be a container image reference of at most 300 characters.")
    elif not image:
        errors.add("image", "required", "The version records no container image digest; give config.image.")
    if errors.items:
        raise ValidationFailed(errors.items)
    return {
        "instance_type": instance.name, "gpus_per_replica": gpus, "min_replicas": min_r, "max_replicas": max_r,
        "spot_percent": spot, "strategy": strategy, "steps": list(steps), "soak_seconds": soak, "sla_p99_ms": sla,
        "autoscaling": normalized_autoscaling, "image": image,
    }


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
