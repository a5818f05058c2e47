from django.urls import path

from apps.readiness import views

app_name = "readiness"
urlpatterns = [
    path("versions/<int:pk>/checklist/", views.ChecklistCardView.as_view(), name="checklist_card"),
    path("versions/<int:pk>/checklist/evaluate/", views.ChecklistEvaluateView.as_view(), name="checklist_evaluate"),
    path("versions/<int:pk>/checklist/<slug:key>/attest/", views.ItemAttestView.as_view(), name="item_attest"),
    path("versions/<int:pk>/checklist/<slug:key>/waive/", views.ItemWaiveView.as_view(), name="item_waive"),
]
