"""The workflow editor of drip and triggered campaigns (campaigns.views.workflow)."""

from django.urls import path

from campaigns.views import workflow

urlpatterns = [
    path("<uuid:campaign_id>/workflow/", workflow.workflow_page, name="workflow"),
    path("<uuid:campaign_id>/workflow/trigger/", workflow.trigger_update, name="workflow_trigger"),
    path("<uuid:campaign_id>/workflow/start/", workflow.workflow_start, name="workflow_start"),
    path("<uuid:campaign_id>/workflow/steps/", workflow.step_create, name="workflow_step_add"),
    path("<uuid:campaign_id>/workflow/steps/<uuid:step_id>/", workflow.step_edit, name="workflow_step"),
    path("<uuid:campaign_id>/workflow/steps/<uuid:step_id>/delete/", workflow.step_delete, name="workflow_step_delete"),
    path("<uuid:campaign_id>/workflow/steps/<uuid:step_id>/move/", workflow.step_move, name="workflow_step_move"),
]
