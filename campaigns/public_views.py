"""Public, login-free endpoints of campaigns: the media files providers fetch while sending.

Twilio plays a voice recording from a URL and WhatsApp / Telegram download attachments from
one, so these answer without a session. The address carries the item's random UUID (never a
guessable file name); an unknown id and a mismatched name both answer 404.
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from campaigns.models import CampaignMedia
from tenants.scoping import scopes_disabled


@require_GET
def media_public(request, media_id, filename: str):
    with scopes_disabled():  # the UUID says which tenant; nothing else is revealed
        item = CampaignMedia.objects.filter(pk=media_id, tenant__is_active=True).first()
    if item is None or item.file.name.rsplit("/", 1)[-1] != filename:
        raise Http404("No such file")
    try:
        handle = default_storage.open(item.file.name, "rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404("No such file") from exc
    response = FileResponse(handle, content_type=item.content_type)
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response
