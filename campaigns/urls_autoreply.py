from django.urls import path

from campaigns.views import autoreply

urlpatterns = [
    path("<uuid:campaign_id>/ai/", autoreply.autoreply_settings, name="autoreply"),
    path("<uuid:campaign_id>/ai/triggers/", autoreply.trigger_add, name="autoreply_trigger_add"),
    path("<uuid:campaign_id>/ai/triggers/<uuid:trigger_id>/", autoreply.trigger_edit, name="autoreply_trigger"),
    path("<uuid:campaign_id>/ai/triggers/<uuid:trigger_id>/delete/", autoreply.trigger_delete,
         name="autoreply_trigger_delete"),
    path("<uuid:campaign_id>/ai/training/", autoreply.training_status, name="autoreply_training"),
    path("<uuid:campaign_id>/ai/test/", autoreply.autoreply_test, name="autoreply_test"),
    path("<uuid:campaign_id>/ai/handovers/<uuid:reply_id>/handled/", autoreply.handover_handled,
         name="autoreply_handled"),
    # Workspace-wide "Needs a human": open handovers of every campaign.
    path("handovers/", autoreply.handovers_all, name="handovers"),
    path("handovers/<uuid:reply_id>/handled/", autoreply.handovers_all_handled, name="handovers_handled"),
]
