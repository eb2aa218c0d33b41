from django.apps import AppConfig


class SocialAccountsConfig(AppConfig):
    name = "social_accounts"
    verbose_name = "Social accounts"
