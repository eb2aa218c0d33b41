"""Creating and editing a contact: normalization, duplicates, attributes, tags and lists."""

from __future__ import annotations

import pytest

from audiences.models import Contact, ContactList, Tag

pytestmark = pytest.mark.django_db


def url(tenant, suffix="contacts/new/") -> str:
    return f"/t/{tenant.slug}/audiences/{suffix}"


def form_data(**overrides) -> dict:
    data = {"first_name": "Asha", "last_name": "Kapoor", "email": "  Asha.Kapoor@Example.COM ",
            "phone": "098100 12345", "role": "customer", "city": "Pune", "pincode": "411001", "timezone": "",
            "locale": "en-IN", "attributes": "plan=pro\nlifetime_value=1200\nscore=4.5\nbalance=20.50\n\nnote=likes = signs"}
    data.update(overrides)
    return data


def test_a_marketer_creates_a_contact_with_normalized_addresses(marketer_client, tenant_a, in_tenant_a):
    vip = Tag.objects.create(tenant=tenant_a, name="vip")
    testers = ContactList.objects.create(tenant=tenant_a, name="Testers")
    response = marketer_client.post(url(tenant_a), form_data(tags=[vip.pk], lists=[testers.pk]))
    contact = Contact.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/contacts/{contact.pk}/")
    assert contact.email == "asha.kapoor@example.com"
    assert contact.phone == "+919810012345"  # tenant A parses numbers as Indian
    # Numbers are stored as numbers (what numeric segment rules compare), the rest as text.
    assert contact.attributes == {"plan": "pro", "lifetime_value": 1200, "score": 4.5, "balance": 20.5,
                                  "note": "likes = signs"}
    assert list(contact.tags.all()) == [vip] and list(contact.lists.all()) == [testers]
    assert contact.tz_name() == "Asia/Kolkata"  # blank time zone falls back to the workspace's


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"email": "not-an-email"}, "email", "is not a valid email address"),
    ({"phone": "12"}, "phone", "is not a valid phone number"),
    ({"phone": "call me"}, "phone", "is not a phone number"),
    ({"attributes": "plan pro"}, "attributes", "Line 1: write key=value"),
    ({"attributes": "9lives=yes"}, "attributes", "is not a valid key"),
    ({"timezone": "Mars/Olympus"}, "timezone", "Select a valid choice"),
])
def test_bad_input_gets_a_clear_field_error_and_keeps_what_was_typed(marketer_client, tenant_a, in_tenant_a,
                                                                      overrides, field, message):
    response = marketer_client.post(url(tenant_a), form_data(**overrides))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert 'value="Kapoor"' in response.content.decode()
    assert not Contact.objects.exists()


def test_a_contact_needs_a_name_or_an_address(marketer_client, tenant_a, in_tenant_a):
    response = marketer_client.post(url(tenant_a), {"role": "customer"})
    assert "Give at least a name" in response.content.decode() and not Contact.objects.exists()


def test_duplicates_in_the_workspace_are_a_field_error(marketer_client, tenant_a, in_tenant_a):
    Contact.objects.create(tenant=tenant_a, first_name="First", email="asha.kapoor@example.com",
                           phone="+919999900000")
    by_email = marketer_client.post(url(tenant_a), form_data(phone=""))
    assert "Another contact already has the email asha.kapoor@example.com." in by_email.context["form"].errors["email"]
    # The same number written in national form is still the same number.
    by_phone = marketer_client.post(url(tenant_a), form_data(email="", phone="99999 00000"))
    assert by_phone.context["form"].errors["phone"] == ["Another contact already has the phone +919999900000."]
    assert Contact.objects.count() == 1


def test_the_same_address_in_another_workspace_is_no_duplicate(outsider_client, tenant_a, tenant_b, in_tenant_a):
    Contact.objects.create(tenant=tenant_a, email="asha.kapoor@example.com")
    response = outsider_client.post(url(tenant_b), form_data(phone="(202) 555-0101"))
    assert response.status_code == 302


def test_editing_keeps_the_contacts_own_address_and_shows_current_values(marketer_client, tenant_a, in_tenant_a):
    contact = Contact.objects.create(tenant=tenant_a, first_name="Asha", email="asha.kapoor@example.com",
                                     attributes={"plan": "pro", "ltv": 10})
    page = marketer_client.get(url(tenant_a, f"contacts/{contact.pk}/edit/")).content.decode()
    assert "plan=pro" in page and "ltv=10" in page
    response = marketer_client.post(url(tenant_a, f"contacts/{contact.pk}/edit/"),
                                    form_data(first_name="Asha M", phone="", timezone="Europe/London"))
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.first_name, contact.timezone, contact.email) == ("Asha M", "Europe/London",
                                                                     "asha.kapoor@example.com")
