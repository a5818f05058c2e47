from django.urls import path

from apps.costs import views

app_name = "costs"
urlpatterns = [
    path("costs/", views.CostOverviewView.as_view(), name="cost_overview"),
    path("costs/export.csv", views.CostExportView.as_view(), name="cost_export"),
    path("costs/models/<int:pk>/", views.ModelCostView.as_view(), name="model_costs"),
]
