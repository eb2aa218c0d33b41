"""The contract every channel provider implements.

An adapter takes a batch of plain OutboundMessage objects and returns one SendResult per message,
in the same order. It never sees a campaign, a contact or a delivery row: channels knows nothing
of campaigns. One error type, ProviderError, carries the whole failure taxonomy.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar


class ProviderError(Exception):
    """A provider call failed.

    permanent=True: retrying cannot help (invalid number, opted out, bad template...).
    permanent=False: transient (timeout, 5xx, 429); retry_after is the provider's hint in seconds.
    code is the provider's own error code as a string ("21610", "131026", "429").
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        permanent: bool = False,
        retry_after: float | None = None,
        suppress_recipient: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = None if code is None else str(code)
        self.permanent = permanent
        self.retry_after = retry_after
        # The provider says this address must never be messaged again (e.g. Twilio 21610).
        self.suppress_recipient = suppress_recipient
        # False when the message never reached the provider (the rest of a batch after an error
        # that halts it): the engine retries without counting an attempt.
        self.attempted = True
        # The recipient has a new address and nothing was delivered to the old one (a Telegram group
        # upgraded to a supergroup answers with its new chat id): the engine re-sends there once.
        self.moved_to: str | None = None

    def __repr__(self) -> str:
        kind = "permanent" if self.permanent else "transient"
        return f"ProviderError({self.message!r}, code={self.code!r}, {kind}, retry_after={self.retry_after})"


class ConfigurationError(ProviderError):
    """Missing or invalid provider settings: permanent, with a message an admin can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="configuration", permanent=True)


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str  # image/jpeg, video/mp4, application/pdf ...
    filename: str = ""


@dataclass(frozen=True)
class TemplateRef:
    """An approved provider-side template (WhatsApp)."""

    name: str
    language: str = "en"
    variables: Sequence[str] = ()
    header_media: Media | None = None
    provider_id: str = ""  # e.g. Twilio Content SID


@dataclass(frozen=True)
class TemplateSpec:
    """A WhatsApp message template as submitted for the provider's (Meta's) review."""

    name: str  # lower-case letters, digits and underscores
    language: str  # "en", "en_US", "hi" ...
    category: str  # "marketing", "utility" or "authentication"
    body: str  # with numbered variables {{1}}, {{2}} ...
    footer: str = ""
    samples: Sequence[str] = ()  # example values for {{1}}, {{2}} ... in order, for the reviewers
    buttons: Sequence[Mapping[str, str]] = ()  # {"type": "url"|"quick_reply", "text": ..., "url": ...}
    header_media: Media | None = None
    header_bytes: bytes = b""  # the header file itself, for providers that take an uploaded example (Meta)
    provider_id: str = ""  # set after a first submission (Meta template id, Twilio Content SID)

    def sample(self, n: int) -> str:
        """The example value of {{n}} (a placeholder where the marketer gave none)."""
        return self.samples[n - 1] if len(self.samples) >= n else f"sample {n}"


@dataclass(frozen=True)
class TemplateReview:
    """The provider's word on a submitted template."""

    SUBMITTED: ClassVar[str] = "submitted"
    APPROVED: ClassVar[str] = "approved"
    REJECTED: ClassVar[str] = "rejected"

    status: str  # one of SUBMITTED (still in review), APPROVED, REJECTED
    reason: str = ""  # the provider's rejection reason
    provider_id: str = ""


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one recipient, fully rendered (personalisation already applied)."""

    id: str  # the delivery's UUID; passed to the provider as metadata wherever the API allows
    to: str  # email, E.164 phone, Telegram chat id, push endpoint, social account id
    text: str = ""
    subject: str = ""
    html: str = ""
    title: str = ""
    url: str = ""
    media: Sequence[Media] = ()
    template: TemplateRef | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # Channel-specific options: web push keys, Telegram buttons/silent/pin, voice AMD, etc.
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    message_id: str  # OutboundMessage.id
    provider_message_id: str | None = None
    error: ProviderError | None = None
    cost: Decimal = Decimal("0")

    @property
    def ok(self) -> bool:
        return self.error is None


class Stage(enum.IntEnum):
    """Delivery stages in forward order; the engine only ever moves a delivery forward."""

    SENT = 10
    DELIVERED = 20
    READ = 30  # opened, for email
    CLICKED = 40
    REPLIED = 50
    FAILED = 90  # a terminal failure reported after acceptance (bounce, undelivered)


@dataclass(frozen=True)
class StatusEvent:
    """A provider callback, parsed. Applied forward-only by the delivery engine."""

    stage: Stage | None  # None for pure inbound messages that match no delivery
    provider_message_id: str = ""
    message_id: str = ""  # our delivery UUID, when the provider echoes it back
    occurred_at: datetime | None = None
    event_id: str = ""  # provider's unique id for dedupe (sg_event_id, Twilio SID+status...)
    error_code: str = ""
    error_message: str = ""
    disposition: str = ""  # voice: answered, machine, busy, no_answer, failed
    # Inbound message (reply or STOP / START / HELP keyword):
    from_address: str = ""
    text: str = ""
    keyword: str = ""  # "stop", "start" or "help" when the text is a compliance keyword
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    channel: str  # email, push, sms, whatsapp, telegram, voice, social
    max_text_length: int | None = None
    media_types: frozenset[str] = frozenset()
    read_receipts: bool = False
    templates_required: bool = False  # business-initiated messages need an approved template
    # submit_template() / template_review() talk to the provider's template review (WhatsApp).
    template_approval: bool = False
    max_batch: int = 100  # messages per send() call the adapter handles efficiently
    default_rate_per_second: float = 10.0
    callbacks: bool = False
    # Email: one body for many recipients, each with OutboundMessage.options["substitutions"]
    # ({tag: value}) applied by the provider (SendGrid personalizations).
    substitutions: bool = False


@dataclass(frozen=True)
class ProviderConfig:
    """What an adapter gets from a tenant's ChannelConfig: plain values, secrets decrypted."""

    key: str  # registry key, e.g. "twilio_sms"
    settings: Mapping[str, Any]  # non-secret settings (from number, sender name, ...)
    secrets: Mapping[str, str] = field(repr=False)  # decrypted credentials; never in repr or logs
    unit_cost: Decimal = Decimal("0")
    callback_url: str = ""  # absolute URL of this config's webhook route
    tenant_id: int | None = None
    config_id: str = ""  # the ChannelConfig's UUID (sandbox outbox, rate-limit keys, logs)
    channel: str = ""  # the ChannelConfig's channel (email, sms ...), for "any"-channel adapters


@dataclass(frozen=True)
class ConfigField:
    """One setting an admin fills in for a provider; the config form is built from these."""

    name: str
    label: str
    secret: bool = False  # stored encrypted, write-only in the UI
    required: bool = True
    help: str = ""


class ChannelAdapter:
    """Base class of every provider. Subclasses set `capabilities` and implement send()."""

    capabilities: ClassVar[Capabilities]
    # What the ChannelConfig form asks for; values arrive in config.settings / config.secrets.
    fields: ClassVar[tuple[ConfigField, ...]] = ()

    @classmethod
    def generate_secrets(cls) -> dict[str, str]:
        """Secrets the platform creates itself when a config is added (e.g. VAPID keys)."""
        return {}

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Send a batch; return one SendResult per message, in order.

        Per-message failures are returned as SendResult.error. A failure of the whole call
        (timeout, 5xx, 429, bad credentials) may be raised as ProviderError instead.
        """
        raise NotImplementedError

    def cost(self, message: OutboundMessage) -> Decimal:
        """Estimated cost of one message (SMS counts segments)."""
        return self.config.unit_cost

    def test_connection(self) -> str:
        """Check credentials against the provider; return a short description or raise ProviderError."""
        raise NotImplementedError

    def verify_callback(self, request) -> bool:
        """Check the signature of a status callback on its raw body, in constant time."""
        return False

    def parse_callback(self, request) -> list[StatusEvent]:
        """Turn a verified callback into status events (call verify_callback first)."""
        return []

    def submit_template(self, spec: TemplateSpec) -> TemplateReview:
        """Send a message template to the provider's review (capabilities.template_approval only).

        Returns the review as it stands right after submission (usually SUBMITTED, with the
        provider's id for the template); raises ProviderError when the provider refuses it."""
        raise NotImplementedError

    def template_review(self, spec: TemplateSpec) -> TemplateReview:
        """Ask the provider where the review of a submitted template stands (spec.provider_id set)."""
        raise NotImplementedError
