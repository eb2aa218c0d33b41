"""Tenant-scoped audiences URLs, one list per area so that each area's routes live beside its views."""

from audiences.urls_contacts import urlpatterns as contacts_patterns
from audiences.urls_imports import urlpatterns as imports_patterns
from audiences.urls_segments import urlpatterns as segments_patterns
from audiences.urls_telegram import urlpatterns as telegram_patterns

app_name = "audiences"

urlpatterns = contacts_patterns + segments_patterns + imports_patterns + telegram_patterns
