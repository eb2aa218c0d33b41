from django.urls import path

from campaigns.views import templates_views as views

urlpatterns = [
    path("templates/", views.template_list, name="templates"),
    path("templates/new/", views.template_new, name="template_new"),
    path("templates/<uuid:template_id>/", views.template_edit, name="template_edit"),
    path("templates/<uuid:template_id>/delete/", views.template_delete_view, name="template_delete"),
    path("templates/<uuid:template_id>/submit/", views.template_submit_view, name="template_submit"),
    path("templates/<uuid:template_id>/sync/", views.template_sync_view, name="template_sync"),
    path("templates/<uuid:template_id>/review/", views.template_review_view, name="template_review"),
    path("starters/<slug:key>/use/", views.starter_use, name="starter_use"),
]
