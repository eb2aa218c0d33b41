"""{% autoreply_activity campaign %}: the campaign page's "AI replies" section, without the page's
view having to know about auto-replies."""

from __future__ import annotations

from django import template

from campaigns.ai_replies.selectors import auto_replies_recent

register = template.Library()


@register.inclusion_tag("campaigns/autoreply/activity.html")
def autoreply_activity(campaign) -> dict:
    return {"campaign": campaign, "recent": auto_replies_recent(campaign=campaign)}
