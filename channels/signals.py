"""Signals that let channels report what providers told us without importing campaigns.

- status_events_received(sender, tenant_id, config_id, events): verified, deduplicated status
  events from a webhook; the delivery engine applies them forward-only.
- keyword_received(sender, tenant_id, channel, address, keyword, evidence): an inbound STOP /
  START / HELP; audiences turns it into consent history.
- recipient_suppressed(sender, tenant_id, channel, address, reason): a provider said never to
  message this address again (e.g. Twilio 21610); audiences adds it to the suppression list.
- recipient_moved(sender, tenant_id, channel, address, new_address): a provider said the address
  has a new one (a Telegram group upgraded to a supergroup); audiences follows it.
"""

from django.dispatch import Signal

status_events_received = Signal()
keyword_received = Signal()
recipient_suppressed = Signal()
recipient_moved = Signal()
