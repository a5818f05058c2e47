from django.urls import path

from apps.registry import views

app_name = "registry"
urlpatterns = [
    path("models/", views.ModelListView.as_view(), name="model_list"),
    path("models/new/", views.ModelCreateView.as_view(), name="model_create"),
    path("models/<int:pk>/", views.ModelDetailView.as_view(), name="model_detail"),
    path("models/<int:pk>/edit/", views.ModelEditView.as_view(), name="model_edit"),
    path("models/<int:pk>/delete/", views.ModelDeleteView.as_view(), name="model_delete"),
    path("models/<int:pk>/import/", views.VersionImportView.as_view(), name="version_import"),
    path("models/<int:pk>/sync/", views.ModelSyncView.as_view(), name="model_sync"),
    path("versions/<int:pk>/", views.VersionDetailView.as_view(), name="version_detail"),
]
