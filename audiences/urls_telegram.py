"""Audiences -> Telegram (views in audiences/views/telegram.py)."""

from django.urls import path

from audiences.views import telegram

urlpatterns = [
    path("telegram/", telegram.groups, name="telegram_groups"),
    path("telegram/refresh/", telegram.groups_refresh, name="telegram_groups_refresh"),
    path("telegram/groups/<uuid:pk>/leave/", telegram.group_leave, name="telegram_group_leave"),
    path("telegram/subscribers/", telegram.subscribers, name="telegram_subscribers"),
    path("telegram/subscribers/action/", telegram.subscribers_action, name="telegram_subscribers_action"),
    path("telegram/subscribers/export.csv", telegram.subscribers_export, name="telegram_subscribers_export"),
    path("telegram/subscribers/<uuid:pk>/message/", telegram.subscriber_message, name="telegram_message"),
    path("telegram/reach/", telegram.reach, name="telegram_reach"),
]
