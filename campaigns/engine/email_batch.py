"""Batched email: one SendGrid request carries hundreds of recipients.

SendGrid's Mail Send takes up to 1,000 personalizations that share one subject, HTML and text;
what differs per recipient travels as `substitutions` ({tag: value}), which SendGrid replaces in
the subject and the bodies. EmailShape renders a campaign's email once with a tag in place of
every variable, every tracked link and the open pixel; each delivery then only computes its
values. Without this every personalised email was a request of its own (the bodies differ).

What a recipient receives is exactly what the one-by-one rendering (MessageBuilder.build) gives.
Where a tag could come out differently from the value it stands for, that recipient (or, for
something in the content itself, the whole campaign) goes the one-by-one way instead:
- the content: a variable inside a link (the link's tracking id depends on the whole URL), a
  variable right after "&" in the HTML (the generated text part unescapes entities), a variable
  right before "ttp://"-like text (a tracked URL could form across it);
- a recipient: a value that is empty, has leading, trailing, repeated or non-space whitespace
  (the generated text part collapses whitespace), contains "http" (text links are tracked) or
  "%%", or substitutions over SendGrid's 10,000-byte limit per personalization.
tests/campaigns/test_email_batch.py checks the equivalence on awkward values.
"""

from __future__ import annotations

import html
import re
import secrets

from analytics.tracking import (
    click_token,
    click_url,
    open_token,
    open_url,
    tracked_link_id,
    tracking_apply,
)
from campaigns.content import EmailContent
from campaigns.rendering import contact_context, variable_value

MAX_SUBSTITUTION_BYTES = 9_000  # SendGrid refuses more than 10,000 per personalization
_TOKEN = "__token__"
# Values a tag cannot stand for (see the module docstring).
_NOT_PLAIN = re.compile(r"^\s|\s$|[^\S ]| {2}|%%")
_URL_TAIL = ("ttps://", "ttp://", "tps://", "tp://", "ps://", "p://")
_ENTITY_BEFORE = re.compile(r"&[#A-Za-z0-9]*$")


class NotBatchable(Exception):
    """The content itself needs one-by-one rendering."""


class EmailShape:
    """One campaign email rendered with tags; values per delivery (message_fields)."""

    def __init__(self, *, campaign, typed: EmailContent) -> None:
        self.campaign = campaign
        self.track_links = bool(campaign.track_links)
        nonce = secrets.token_hex(4)
        counter = iter(range(1_000_000))
        new_tag = lambda: f"%%r{nonce}{next(counter)}%%"  # noqa: E731 - tiny and local
        self.raw: dict = {}  # _Var -> tag, for the subject and text (raw values)

        def tag(var):
            if var not in self.raw:
                self.raw[var] = new_tag()
            return self.raw[var]

        fields = typed.render_tagged(tag)
        self.escaped = {var: new_tag() for var in self.raw}  # _Var -> tag inside the HTML (escaped values)
        body = fields["html"]
        for var, raw_tag in self.raw.items():
            body = body.replace(raw_tag, self.escaped[var])
        fields["html"] = body
        self._check_entities(body)

        self.links: dict[str, int] = {}  # tag -> TrackedLink id

        def tracked(url: str) -> str:
            if "%%r" + nonce in url:
                raise NotBatchable("a variable inside a link")
            link_id = tracked_link_id(campaign, url)
            if link_id is None:
                return url
            for existing, known in self.links.items():
                if known == link_id:
                    return existing
            link_tag = new_tag()
            self.links[link_tag] = link_id
            return link_tag

        self.pixel = new_tag() if campaign.track_reads and fields.get("html") else None
        fields = tracking_apply(fields, delivery=None, campaign=campaign, channel="email", tracked=tracked,
                                pixel_url=self.pixel)
        if self.track_links:
            self._check_url_tails(fields["text"], self.raw.values())
        self.subject, self.html, self.text = fields["subject"], fields["html"], fields["text"]
        used = f"{self.subject}\n{self.html}\n{self.text}"
        self.raw = {var: t for var, t in self.raw.items() if t in used}
        self.escaped = {var: t for var, t in self.escaped.items() if t in used}
        self._click_url = click_url(_TOKEN)
        self._open_url = open_url(_TOKEN)

    def _check_entities(self, body: str) -> None:
        for t in self.escaped.values():
            start = 0
            while (index := body.find(t, start)) != -1:
                start = index + len(t)
                if _ENTITY_BEFORE.search(body[max(0, index - 40):index]):
                    raise NotBatchable("a variable right after '&'")

    @staticmethod
    def _check_url_tails(text: str, tags) -> None:
        for t in tags:
            start = 0
            while (index := text.find(t, start)) != -1:
                start = index + len(t)
                if text.startswith(_URL_TAIL, start):
                    raise NotBatchable("a variable right before a link's scheme")

    def substitutions(self, delivery) -> dict[str, str] | None:
        """The delivery's {tag: value}, or None when it must be rendered one by one."""
        context = contact_context(delivery.contact)
        subs: dict[str, str] = {}
        size = 0
        for var in self.raw.keys() | self.escaped.keys():
            value = variable_value(context, var)
            if not value or _NOT_PLAIN.search(value) or (self.track_links and "http" in value):
                return None
            if var in self.raw:
                subs[self.raw[var]] = value
                size += len(self.raw[var]) + len(value.encode())
            if var in self.escaped:
                escaped = html.escape(value)
                subs[self.escaped[var]] = escaped
                size += len(self.escaped[var]) + len(escaped.encode())
        tenant_id, uuid = delivery.tenant_id, delivery.uuid
        for link_tag, link_id in self.links.items():
            url = self._click_url.replace(_TOKEN, click_token(tenant_id=tenant_id, delivery_uuid=uuid, link_id=link_id))
            subs[link_tag] = url
            size += len(link_tag) + len(url)
        if self.pixel:
            url = self._open_url.replace(_TOKEN, open_token(tenant_id=tenant_id, delivery_uuid=uuid))
            subs[self.pixel] = url
            size += len(self.pixel) + len(url)
        return subs if size <= MAX_SUBSTITUTION_BYTES else None


def expand(text: str, substitutions: dict[str, str]) -> str:
    """What SendGrid does with a personalization's substitutions (tests, previews)."""
    if not substitutions:
        return text
    pattern = re.compile("|".join(re.escape(k) for k in sorted(substitutions, key=len, reverse=True)))
    return pattern.sub(lambda m: substitutions[m.group(0)], text)
