from django.urls import path

from channels import webhooks

app_name = "channels_hook_urls"

urlpatterns = [
    # The token is the config's opaque webhook_token: it names neither the tenant nor the config.
    path("<slug:provider>/<str:token>/", webhooks.hook, name="hook"),
]
