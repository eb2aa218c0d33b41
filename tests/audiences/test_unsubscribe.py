"""The preference centre and RFC 8058 one-click unsubscribe: no login, signed, tenant-bound."""

from __future__ import annotations

import pytest
from django.core import signing

from audiences import services
from audiences.models import CONSENT_CHANNELS, ConsentEvent, ConsentSource, ConsentState, Contact
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def asha(tenant_a):
    with tenant_scope(tenant_a):
        return Contact.objects.create(tenant=tenant_a, first_name="Asha", email="asha@example.com",
                                      phone="+919810012345", consent_email=ConsentState.OPTED_IN,
                                      consent_sms=ConsentState.OPTED_IN, consent_whatsapp=ConsentState.OPTED_IN)


def states(contact) -> dict:
    with tenant_scope(contact.tenant_id):
        fresh = Contact.objects.get(pk=contact.pk)
    return {channel: fresh.consent(channel) for channel in CONSENT_CHANNELS}


def history(contact) -> list:
    with tenant_scope(contact.tenant_id):
        return list(ConsentEvent.objects.filter(contact=contact).values_list("channel", "state", "source"))


def test_a_get_only_shows_the_page_and_changes_nothing(client, asha):
    before = states(asha)
    for path in (services.unsubscribe_path(contact=asha), services.unsubscribe_path(contact=asha, channel="email")):
        response = client.get(path)
        assert response.status_code == 200 and "Message preferences" in response.content.decode()
    assert states(asha) == before and history(asha) == []


def test_unsubscribing_from_the_links_channel_writes_history(client, asha):
    response = client.post(services.unsubscribe_path(contact=asha, channel="email"), {"action": "channel"})
    assert response.status_code == 200 and "Changed: Email" in response.content.decode()
    assert states(asha)["email"] == ConsentState.OPTED_OUT and states(asha)["sms"] == ConsentState.OPTED_IN
    assert history(asha) == [("email", "opted_out", ConsentSource.UNSUBSCRIBE)]


def test_unsubscribing_from_everything_opts_out_every_channel(client, asha):
    client.post(services.unsubscribe_path(contact=asha), {"action": "all"})
    assert set(states(asha).values()) == {ConsentState.OPTED_OUT}
    assert len(history(asha)) == len(CONSENT_CHANNELS)
    assert {source for _, _, source in history(asha)} == {ConsentSource.UNSUBSCRIBE}


def test_saving_preferences_changes_only_what_the_contact_unticked_or_ticked(client, asha):
    client.post(services.unsubscribe_path(contact=asha), {"action": "save", "channels": ["email", "push"]})
    after = states(asha)
    assert after["email"] == ConsentState.OPTED_IN and after["push"] == ConsentState.OPTED_IN
    assert after["sms"] == after["whatsapp"] == ConsentState.OPTED_OUT
    assert after["telegram"] == after["voice"] == ConsentState.UNKNOWN
    assert sorted(history(asha)) == [("push", "opted_in", "unsubscribe"), ("sms", "opted_out", "unsubscribe"),
                                     ("whatsapp", "opted_out", "unsubscribe")]


def test_a_forged_or_mangled_token_answers_404(client, asha):
    token = services.unsubscribe_token(contact=asha)
    forged = signing.dumps({"t": asha.tenant_id, "c": asha.pk.hex, "ch": ""}, salt="something-else")
    for bad in (token[:-3] + "abc", forged, "nonsense"):
        assert client.get(f"/p/u/{bad}/").status_code == 404
        assert client.post(f"/p/u/{bad}/", {"action": "all"}).status_code == 404
        assert client.post(f"/p/u/{bad}/one-click/", {"List-Unsubscribe": "One-Click"}).status_code == 404
    assert history(asha) == []


def test_a_token_bound_to_another_tenant_does_nothing_there(client, asha, tenant_b):
    # Correctly signed, but it names tenant B: A's contact is not found inside B.
    token = signing.dumps({"t": tenant_b.pk, "c": asha.pk.hex, "ch": "email"}, salt="audiences.unsubscribe.v1",
                          compress=True)
    assert client.post(f"/p/u/{token}/", {"action": "all"}).status_code == 404
    assert client.post(f"/p/u/{token}/one-click/", {"List-Unsubscribe": "One-Click"}).status_code == 404
    assert states(asha)["email"] == ConsentState.OPTED_IN and history(asha) == []


def test_one_click_post_answers_200_without_redirect_and_opts_out_at_once(client, asha):
    response = client.post(services.unsubscribe_one_click_path(contact=asha),
                           "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and "Location" not in response
    assert states(asha)["email"] == ConsentState.OPTED_OUT
    assert history(asha) == [("email", "opted_out", ConsentSource.UNSUBSCRIBE)]


def test_one_click_needs_the_rfc_8058_body_and_a_post(client, asha):
    path = services.unsubscribe_one_click_path(contact=asha)
    assert client.post(path, {"List-Unsubscribe": "Yes"}).status_code == 400
    assert client.get(path).status_code == 405
    assert states(asha)["email"] == ConsentState.OPTED_IN
