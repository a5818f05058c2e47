"""REST API v1 routes: one DRF router; each app's api.py registers its viewsets."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False

urlpatterns = router.urls
