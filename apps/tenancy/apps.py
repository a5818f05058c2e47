from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "apps.tenancy"
    label = "tenancy"
    verbose_name = "Teams and access"

    def ready(self) -> None:
        from django.conf import settings

        from apps.tenancy import lockout, signals  # noqa: F401  (signal receivers)

        if settings.OIDC_ENABLED:
            from apps.tenancy.oidc import parse_team_groups

            parse_team_groups(settings.OIDC_TEAM_GROUPS)  # a malformed mapping stops the process
