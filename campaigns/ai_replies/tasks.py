"""The auto-reply task: thin, tenant-scoped, idempotent (the service claims the row)."""

from __future__ import annotations

from celery import shared_task

from tenants.tasks import TenantTask


@shared_task(base=TenantTask, name="campaigns.ai_replies.tasks.auto_reply_handle_task",
             required_flag="campaigns_enabled")
def auto_reply_handle_task(tenant, auto_reply_id: str) -> str:
    from campaigns.ai_replies.services import auto_reply_handle

    row = auto_reply_handle(auto_reply_id=auto_reply_id)
    return row.status if row is not None else "claimed elsewhere"
