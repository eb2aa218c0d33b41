from __future__ import annotations

from django.urls import path

from audiences.views import segments

urlpatterns = [
    path("segments/", segments.segment_list, name="segment_list"),
    path("segments/new/", segments.segment_new, name="segment_new"),
    path("segments/builder/", segments.segment_builder, name="segment_builder"),
    path("segments/preview/", segments.segment_preview, name="segment_preview"),
    path("segments/<uuid:pk>/", segments.segment_edit, name="segment_edit"),
    path("segments/<uuid:pk>/delete/", segments.segment_delete_view, name="segment_delete"),
]
