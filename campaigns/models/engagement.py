"""Per-contact engagement figures derived from deliveries (refreshed nightly by beat)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator
from django.db import models

from tenants.models import TenantOwnedModel


class ContactSendTime(TenantOwnedModel):
    """The local hour at which a contact engaged (opened, clicked, replied) most over 90 days."""

    contact = models.OneToOneField("audiences.Contact", on_delete=models.CASCADE, related_name="send_time")
    best_hour = models.PositiveSmallIntegerField(validators=[MaxValueValidator(23)])
    samples = models.PositiveIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "best_hour"], name="contactsendtime_hour")]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.best_hour:02d}:00 ({self.samples} engagements)"
