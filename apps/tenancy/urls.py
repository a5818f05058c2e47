from django.urls import path

from apps.tenancy import views

app_name = "tenancy"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("team/", views.TeamSwitchView.as_view(), name="team_switch"),
    path("tokens/", views.TokenListView.as_view(), name="token_list"),
    path("tokens/<int:pk>/revoke/", views.TokenRevokeView.as_view(), name="token_revoke"),
]
