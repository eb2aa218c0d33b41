from django.urls import path

from audiences.views import imports

urlpatterns = [
    path("imports/", imports.index, name="imports"),
    path("imports/new/", imports.new, name="import_new"),
    path("imports/<uuid:pk>/", imports.detail, name="import_detail"),
    path("imports/<uuid:pk>/map/", imports.mapping, name="import_map"),
    path("imports/<uuid:pk>/errors.csv", imports.errors_csv, name="import_errors"),
]
