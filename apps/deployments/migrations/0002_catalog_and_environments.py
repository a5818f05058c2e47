"""Staging and production environments (SPEC §2) and the instance catalog."""

from datetime import date
from decimal import Decimal

from django.db import migrations

from apps.deployments.catalog import CATALOG, ENVIRONMENTS, PRICE_DATE


def forward(apps, schema_editor):
    from django.conf import settings

    cluster_url = getattr(settings, "SLIPWAY_DEVCLUSTER_URL", "http://127.0.0.1:8001")
    InstanceType = apps.get_model("deployments", "InstanceType")
    Environment = apps.get_model("deployments", "Environment")
    for name, family, gpu_model, gpus, gpu_mem, vcpus, mem, on_demand, spot in CATALOG:
        InstanceType.objects.update_or_create(name=name, defaults={
            "family": family, "gpu_model": gpu_model, "gpus": gpus, "gpu_memory_gib": gpu_mem, "vcpus": vcpus,
            "memory_gib": Decimal(mem), "on_demand_usd_hour": Decimal(on_demand), "spot_usd_hour": Decimal(spot),
            "price_date": date.fromisoformat(PRICE_DATE), "region": "us-east-1"})
    for name, display, pattern, approval, soak, min_soak, guard, position in ENVIRONMENTS:
        Environment.objects.get_or_create(name=name, defaults={
            "display_name": display, "namespace_pattern": pattern, "requires_approval": approval,
            "default_soak_seconds": soak, "min_soak_seconds": min_soak, "guard_window_seconds": guard,
            "position": position, "cluster": {"kind": "url", "url": cluster_url}})


def backward(apps, schema_editor):
    apps.get_model("deployments", "InstanceType").objects.filter(name__in=[row[0] for row in CATALOG]).delete()


class Migration(migrations.Migration):
    dependencies = [("deployments", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
