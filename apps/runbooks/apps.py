from django.apps import AppConfig


class RunbooksConfig(AppConfig):
    name = "apps.runbooks"
    label = "runbooks"
    verbose_name = "Runbooks"

    def ready(self) -> None:
        from apps.runbooks.readiness import register

        register()
