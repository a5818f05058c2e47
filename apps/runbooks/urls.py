from django.urls import path

from apps.runbooks import views

app_name = "runbooks"
urlpatterns = [
    path("runbooks/", views.RunbookIndexView.as_view(), name="runbook_index"),
    path("runbooks/models/<int:pk>/", views.RunbookDetailView.as_view(), name="model_runbook"),
    path("runbooks/models/<int:pk>/edit/", views.RunbookEditView.as_view(), name="model_runbook_edit"),
    path("runbooks/models/<int:pk>/history/", views.RunbookHistoryView.as_view(), name="model_runbook_history"),
    path("runbooks/models/<int:pk>/diff/", views.RunbookDiffView.as_view(), name="model_runbook_diff"),
    path("runbooks/platform/<slug:slug>/", views.RunbookDetailView.as_view(), name="platform_runbook"),
    path("runbooks/platform/<slug:slug>/edit/", views.RunbookEditView.as_view(), name="platform_runbook_edit"),
    path("runbooks/platform/<slug:slug>/history/", views.RunbookHistoryView.as_view(),
         name="platform_runbook_history"),
    path("runbooks/platform/<slug:slug>/diff/", views.RunbookDiffView.as_view(), name="platform_runbook_diff"),
]
