from django.apps import AppConfig


class ReadinessConfig(AppConfig):
    name = "apps.readiness"
    label = "readiness"
