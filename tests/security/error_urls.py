"""portal.urls plus two views that fail the way a bug would (a database error quoting SQL)."""

from django.db import ProgrammingError
from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from portal.urls import handler403, handler404, handler500  # noqa: F401
from portal.urls import urlpatterns as portal_urlpatterns

SQL = 'relation "secret_table" does not exist\nLINE 1: SELECT "secret_table"."password" FROM psycopg sqlite3'


def broken_page(request):
    raise ProgrammingError(SQL)


@api_view(["GET", "POST"])
@permission_classes([AllowAny])
def broken_api(request):
    raise ProgrammingError(SQL)


urlpatterns = [path("api/v1/_broken/", broken_api), path("_broken/", broken_page), *portal_urlpatterns]
