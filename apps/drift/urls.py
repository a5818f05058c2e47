from django.urls import path

from apps.drift import views

app_name = "drift"
urlpatterns = [
    path("drift/", views.DriftOverviewView.as_view(), name="overview"),
    path("drift/models/<int:pk>/", views.ModelDriftView.as_view(), name="model_drift"),
    path("drift/models/<int:pk>/compute/", views.ReportComputeView.as_view(), name="report_compute"),
    path("drift/models/<int:pk>/policy/", views.PolicyEditView.as_view(), name="policy_edit"),
    path("drift/reports/<int:pk>/acknowledge/", views.ReportAcknowledgeView.as_view(), name="report_acknowledge"),
]
