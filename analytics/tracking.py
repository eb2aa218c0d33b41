"""Link and open tracking: short signed tokens and the rewriting of outgoing content.

A click token carries the delivery's UUID and the TrackedLink id; an open token the UUID only.
Both are signed with Django's SECRET_KEY through `salted_hmac` (what django.core.signing's Signer
uses), with the delivery's tenant in the salt, so a token is only valid for the tenant whose
delivery it names and a changed character fails the check. The MAC is cut to 96 bits: a full
SHA-256 MAC would add 27 characters to every SMS link, and 2^96 guesses per token is far beyond
anyone's reach over HTTP. Tokens do not expire: a link in a year-old message still redirects.

    /r/c/<token>/      click: recorded, then 302 to the original URL
    /r/o/<token>.gif   email open pixel
"""

from __future__ import annotations

import html
import re
import uuid as uuid_lib
from dataclasses import dataclass

from django.conf import settings
from django.core.signing import b64_decode, b64_encode
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from analytics.models import TrackedLink
from config.signing import salted_hmac_sha256

MAC_BYTES = 12
MAC_CHARS = 16  # base64 of 12 bytes, no padding
_CLICK_SALT = "analytics.click.v1"
_OPEN_SALT = "analytics.open.v1"

TRACKED_CHANNELS = ("email", "sms", "whatsapp", "telegram")
# Trailing punctuation belongs to the sentence, not the URL ("see https://x.io/a.").
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}'\""
_HREF = re.compile(r"(<a\b[^>]*?\bhref\s*=\s*)([\"'])(https?://[^\"']+)\2", re.IGNORECASE)


@dataclass(frozen=True)
class ClickToken:
    delivery_uuid: uuid_lib.UUID
    link_id: int


def _mac(payload: str, *, salt: str, tenant_id: int) -> str:
    digest = salted_hmac_sha256(f"{salt}:{tenant_id}", payload).digest()[:MAC_BYTES]
    return b64_encode(digest).decode()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _unvarint(data: bytes) -> int:
    n, shift = 0, 0
    for i, byte in enumerate(data):
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if i != len(data) - 1:
                raise ValueError("trailing bytes")
            return n
    raise ValueError("truncated")


def click_token(*, tenant_id: int, delivery_uuid: uuid_lib.UUID, link_id: int) -> str:
    payload = b64_encode(delivery_uuid.bytes + _varint(link_id)).decode()
    return payload + _mac(payload, salt=_CLICK_SALT, tenant_id=tenant_id)


def open_token(*, tenant_id: int, delivery_uuid: uuid_lib.UUID) -> str:
    payload = b64_encode(delivery_uuid.bytes).decode()
    return payload + _mac(payload, salt=_OPEN_SALT, tenant_id=tenant_id)


def _split(token: str) -> tuple[str, bytes] | None:
    if len(token) < MAC_CHARS + 22 or len(token) > 80:  # 22: a UUID's 16 bytes in base64
        return None
    payload = token[:-MAC_CHARS]
    try:
        return payload, b64_decode(payload.encode())
    except (ValueError, TypeError):
        return None


def click_token_peek(token: str) -> ClickToken | None:
    """The token's contents, NOT yet verified (the tenant needed for the MAC comes from the delivery)."""
    parts = _split(token)
    if parts is None:
        return None
    raw = parts[1]
    try:
        return ClickToken(uuid_lib.UUID(bytes=raw[:16]), _unvarint(raw[16:]))
    except ValueError:
        return None


def open_token_peek(token: str) -> uuid_lib.UUID | None:
    parts = _split(token)
    if parts is None or len(parts[1]) != 16:
        return None
    return uuid_lib.UUID(bytes=parts[1])


def click_token_valid(token: str, *, tenant_id: int) -> bool:
    payload, mac = token[:-MAC_CHARS], token[-MAC_CHARS:]
    return constant_time_compare(mac, _mac(payload, salt=_CLICK_SALT, tenant_id=tenant_id))


def open_token_valid(token: str, *, tenant_id: int) -> bool:
    payload, mac = token[:-MAC_CHARS], token[-MAC_CHARS:]
    return constant_time_compare(mac, _mac(payload, salt=_OPEN_SALT, tenant_id=tenant_id))


def click_url(token: str) -> str:
    return f"{settings.SITE_URL}{reverse('tracking:click', args=[token])}"


def open_url(token: str) -> str:
    return f"{settings.SITE_URL}{reverse('tracking:open', args=[token])}"


# --- rewriting ----------------------------------------------------------------------------------

def _link_id(campaign, url: str) -> int:
    """The TrackedLink id for a URL, cached on the campaign object for the builder's lifetime."""
    cache: dict[str, int] = campaign.__dict__.setdefault("_tracked_link_ids", {})
    if url not in cache:
        link, _ = TrackedLink.objects.get_or_create(tenant_id=campaign.tenant_id, campaign=campaign, url=url)
        cache[url] = link.pk
    return cache[url]


def _trackable(url: str) -> bool:
    # Our own links (unsubscribe, preference centre, tracking) must reach us untouched.
    return not url.startswith(settings.SITE_URL)


def _tracked(url: str, *, campaign, delivery) -> str:
    if not _trackable(url):
        return url
    token = click_token(tenant_id=delivery.tenant_id, delivery_uuid=delivery.uuid,
                        link_id=_link_id(campaign, url[:4000]))
    return click_url(token)


def tracked_link_id(campaign, url: str) -> int | None:
    """The TrackedLink id a link gets in this campaign's messages (None: left untouched)."""
    return _link_id(campaign, url[:4000]) if _trackable(url) else None


def rewrite_text(text: str, *, campaign, delivery, tracked=None) -> str:
    """Links in plain text -> click redirects. `tracked(url)` may replace the per-delivery redirect
    (the batched email path puts a substitution tag there)."""
    tracked = tracked or (lambda url: _tracked(url, campaign=campaign, delivery=delivery))

    def replace(match: re.Match) -> str:
        url = match.group(0)
        stripped = url.rstrip(_TRAILING)
        return tracked(stripped) + url[len(stripped):]

    return _URL_IN_TEXT.sub(replace, text)


def rewrite_html(body: str, *, campaign, delivery, tracked=None) -> str:
    tracked = tracked or (lambda url: _tracked(url, campaign=campaign, delivery=delivery))

    def replace(match: re.Match) -> str:
        url = html.unescape(match.group(3))
        return f"{match.group(1)}{match.group(2)}{tracked(url)}{match.group(2)}"

    return _HREF.sub(replace, body)


def add_open_pixel(body: str, *, delivery, pixel_url: str | None = None) -> str:
    if pixel_url is None:
        pixel_url = open_url(open_token(tenant_id=delivery.tenant_id, delivery_uuid=delivery.uuid))
    pixel = (f'<img src="{pixel_url}" '
             'width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">')
    closing = body.lower().rfind("</body>")
    if closing == -1:
        return body + pixel
    return body[:closing] + pixel + body[closing:]


def tracking_apply(fields: dict, *, delivery, campaign, channel: str, tracked=None, pixel_url: str | None = None
                   ) -> dict:
    """Rewrite a rendered message's links (campaign.track_links) and add the open pixel to email
    (campaign.track_reads). Test sends stay untouched: they go to the team, not to the audience.

    `tracked(url)` and `pixel_url` replace the per-delivery redirect and pixel (the batched email
    path: campaigns.engine.dispatch.MessageBuilder puts substitution tags there)."""
    if (delivery is not None and delivery.is_test) or channel not in TRACKED_CHANNELS:
        return fields
    fields = dict(fields)
    if campaign.track_links:
        if fields.get("text"):
            fields["text"] = rewrite_text(fields["text"], campaign=campaign, delivery=delivery, tracked=tracked)
        if fields.get("html"):
            fields["html"] = rewrite_html(fields["html"], campaign=campaign, delivery=delivery, tracked=tracked)
    if channel == "email" and campaign.track_reads and fields.get("html"):
        fields["html"] = add_open_pixel(fields["html"], delivery=delivery, pixel_url=pixel_url)
    return fields
