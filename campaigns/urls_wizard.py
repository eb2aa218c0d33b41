from django.urls import path

from campaigns.views import wizard

urlpatterns = [
    path("new/", wizard.campaign_new, name="new"),
    path("<uuid:pk>/edit/<slug:step>/", wizard.campaign_wizard, name="edit"),
    path("<uuid:pk>/wizard/audience-counts/", wizard.audience_counts_view, name="wizard_audience_counts"),
    path("<uuid:pk>/wizard/sms-counter/", wizard.sms_counter, name="wizard_sms_counter"),
    path("<uuid:pk>/wizard/ai/<slug:channel>/", wizard.ai_variants, name="wizard_ai"),
    path("<uuid:pk>/wizard/send-test/", wizard.campaign_send_test_view, name="wizard_send_test"),
    path("<uuid:pk>/wizard/launch/", wizard.campaign_launch_view, name="wizard_launch"),
    path("<uuid:pk>/wizard/save/", wizard.campaign_save_draft, name="wizard_save_draft"),
]
