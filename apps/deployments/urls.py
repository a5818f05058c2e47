from django.urls import path

from apps.deployments import views

app_name = "deployments"
urlpatterns = [
    path("deployments/", views.DeploymentListView.as_view(), name="deployment_list"),
    path("deployments/<int:pk>/", views.DeploymentDetailView.as_view(), name="deployment_detail"),
    path("deployments/<int:pk>/misbehave/", views.MisbehaveView.as_view(), name="deployment_misbehave"),
    path("versions/<int:pk>/deploy/", views.DeployView.as_view(), name="deployment_create"),
    path("approvals/", views.ApprovalQueueView.as_view(), name="approval_list"),
] + [
    path(f"deployments/<int:pk>/{action}/", views.ControlView.as_view(action=action), name=f"deployment_{action}")
    for action in views.ACTIONS
]
