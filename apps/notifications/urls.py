from django.urls import path

from apps.notifications import views

app_name = "notifications"
urlpatterns = [
    path("notifications/", views.DestinationListView.as_view(), name="destination_list"),
    path("notifications/new/", views.DestinationCreateView.as_view(), name="destination_create"),
    path("notifications/<int:pk>/edit/", views.DestinationEditView.as_view(), name="destination_edit"),
    path("notifications/<int:pk>/delete/", views.DestinationDeleteView.as_view(), name="destination_delete"),
    path("notifications/<int:pk>/rotate/", views.DestinationRotateView.as_view(), name="destination_rotate"),
    path("notifications/<int:pk>/test/", views.DestinationTestView.as_view(), name="destination_test"),
    path("notifications/deliveries/", views.DeliveryListView.as_view(), name="delivery_list"),
]
