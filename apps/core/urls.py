from django.urls import path

from apps.core import views

app_name = "core"
urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("audit/", views.AuditListView.as_view(), name="audit_list"),
]
