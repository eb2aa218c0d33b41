"""Tags, lists and suppressions pages."""

from __future__ import annotations

import pytest

from audiences.models import ConsentSource, Contact, ContactList, Suppression, SuppressionKind, Tag

pytestmark = pytest.mark.django_db


def url(tenant, suffix) -> str:
    return f"/t/{tenant.slug}/audiences/{suffix}"


def test_tags_are_created_renamed_counted_and_deleted(marketer_client, tenant_a, in_tenant_a):
    assert marketer_client.post(url(tenant_a, "tags/"), {"name": " vip "}).status_code == 302
    tag = Tag.objects.get()
    assert tag.name == "vip"
    for n in range(3):
        Contact.objects.create(tenant=tenant_a, email=f"c{n}@example.com").tags.add(tag)
    page = marketer_client.get(url(tenant_a, "tags/"))
    assert [(t.name, t.contact_count) for t in page.context["tags"]] == [("vip", 3)]
    marketer_client.post(url(tenant_a, f"tags/{tag.pk}/rename/"), {"name": "VIP customers"})
    tag.refresh_from_db()
    assert tag.name == "VIP customers"
    marketer_client.post(url(tenant_a, f"tags/{tag.pk}/delete/"))
    assert not Tag.objects.exists() and Contact.objects.count() == 3


def test_a_tag_name_is_unique_whatever_its_case(marketer_client, tenant_a, in_tenant_a):
    Tag.objects.create(tenant=tenant_a, name="vip")
    other = Tag.objects.create(tenant=tenant_a, name="loyal")
    response = marketer_client.post(url(tenant_a, "tags/"), {"name": "VIP"})
    assert response.status_code == 400 and "There is already a tag called “VIP”." in response.content.decode()
    rename = marketer_client.post(url(tenant_a, f"tags/{other.pk}/rename/"), {"name": "Vip"}, follow=True)
    assert "There is already a tag called “Vip”." in rename.content.decode()
    assert sorted(Tag.objects.values_list("name", flat=True)) == ["loyal", "vip"]
    empty = marketer_client.post(url(tenant_a, "tags/"), {"name": ""})
    assert empty.status_code == 400 and "This field is required." in empty.content.decode()


def test_lists_are_created_renamed_counted_shown_and_deleted(marketer_client, tenant_a, in_tenant_a):
    response = marketer_client.post(url(tenant_a, "lists/"), {"name": "Spring event", "description": "RSVPs"})
    spring = ContactList.objects.get()
    assert response["Location"].endswith(f"/lists/{spring.pk}/")
    members = [Contact.objects.create(tenant=tenant_a, first_name=f"M{n}", email=f"m{n}@example.com")
               for n in range(3)]
    spring.contacts.add(*members)
    index = marketer_client.get(url(tenant_a, "lists/"))
    assert [(lst.name, lst.contact_count) for lst in index.context["lists"]] == [("Spring event", 3)]
    detail = marketer_client.get(url(tenant_a, f"lists/{spring.pk}/")).content.decode()
    assert all(f"m{n}@example.com" in detail for n in range(3))
    marketer_client.post(url(tenant_a, f"lists/{spring.pk}/remove/"), {"ids": [members[0].pk, members[1].pk]})
    assert list(spring.contacts.values_list("first_name", flat=True)) == ["M2"]
    marketer_client.post(url(tenant_a, f"lists/{spring.pk}/"), {"name": "Spring 2026", "description": ""})
    spring.refresh_from_db()
    assert spring.name == "Spring 2026"
    marketer_client.post(url(tenant_a, f"lists/{spring.pk}/delete/"))
    assert not ContactList.objects.exists() and Contact.objects.count() == 3


def test_a_list_name_clash_is_a_field_error(marketer_client, tenant_a, in_tenant_a):
    ContactList.objects.create(tenant=tenant_a, name="Testers")
    response = marketer_client.post(url(tenant_a, "lists/"), {"name": "Testers"})
    assert response.status_code == 400 and "There is already a list called “Testers”." in response.content.decode()


def test_suppressions_are_added_normalized_and_listed_with_source_and_reason(marketer_client, tenant_a, in_tenant_a):
    marketer_client.post(url(tenant_a, "suppressions/"),
                         {"kind": "email", "value": " Bounced@Example.COM ", "reason": "hard bounce"})
    marketer_client.post(url(tenant_a, "suppressions/"), {"kind": "phone", "value": "98100 12345", "reason": ""})
    Suppression.objects.create(tenant=tenant_a, kind=SuppressionKind.PHONE, value="+919810099999",
                               source=ConsentSource.PROVIDER, reason="Twilio 21610")
    assert set(Suppression.objects.values_list("kind", "value")) == {
        ("email", "bounced@example.com"), ("phone", "+919810012345"), ("phone", "+919810099999")}
    page = marketer_client.get(url(tenant_a, "suppressions/")).content.decode()
    assert "hard bounce" in page and "Provider report" in page and "Twilio 21610" in page
    again = marketer_client.post(url(tenant_a, "suppressions/"), {"kind": "email", "value": "bounced@example.com"},
                                 follow=True)
    assert "was already suppressed" in again.content.decode() and Suppression.objects.count() == 3
    found = marketer_client.get(url(tenant_a, "suppressions/?q=bounced")).content.decode()
    assert "bounced@example.com" in found and "+919810099999" not in found


def test_a_bad_suppression_value_gets_a_clear_error(marketer_client, tenant_a, in_tenant_a):
    response = marketer_client.post(url(tenant_a, "suppressions/"), {"kind": "phone", "value": "not a number"})
    assert response.status_code == 400 and "is not a phone number" in response.content.decode()
    assert not Suppression.objects.exists()
