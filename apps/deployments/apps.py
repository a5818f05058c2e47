from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "apps.deployments"
    label = "deployments"
    verbose_name = "Deployments and rollouts"

    def ready(self) -> None:
        from apps.deployments.readiness import register

        register()
