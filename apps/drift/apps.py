from django.apps import AppConfig


class DriftConfig(AppConfig):
    name = "apps.drift"
    label = "drift"
    verbose_name = "Drift monitoring"

    def ready(self) -> None:
        from apps.drift.readiness import register

        register()
