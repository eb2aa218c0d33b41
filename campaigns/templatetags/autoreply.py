"""{% autoreply_activity campaign %}: the campaign page's "AI replies" section, without the page's
view having to know about auto-replies."""

from __future__ import annotations

from django import template

from campaigns.ai_replies.selectors import (
    auto_replies_recent,
    handovers_context,
    handovers_open_count,
)

register = template.Library()


@register.inclusion_tag("campaigns/autoreply/activity.html")
def autoreply_activity(campaign) -> dict:
    return {"campaign": campaign, "recent": auto_replies_recent(campaign=campaign)}


@register.inclusion_tag("campaigns/autoreply/handovers.html", takes_context=True)
def autoreply_handovers(context, campaign, can_edit=False) -> dict:
    """{% autoreply_handovers campaign can_edit %}: the "Needs a human" queue (its links and
    "Mark handled" forms need the page's request and CSRF token)."""
    return {**handovers_context(campaign, can_edit=bool(can_edit)), "request": context.get("request"),
            "csrf_token": context.get("csrf_token")}


@register.simple_tag
def open_handover_count(campaign) -> int:
    """{% open_handover_count campaign as n %}: handovers waiting for a person."""
    return handovers_open_count(campaign=campaign)
