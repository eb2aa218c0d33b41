"""Housekeeping tasks of the channel core."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="channels.tasks.webhook_events_prune_task")
def webhook_events_prune_task() -> int:
    """Forget webhook event ids older than the providers' retry window (beat, every 6 hours)."""
    from channels.services import webhook_events_prune

    deleted = webhook_events_prune()
    logger.info("Pruned %d processed webhook events", deleted)
    return deleted
