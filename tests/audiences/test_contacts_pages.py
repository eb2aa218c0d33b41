"""Contacts area pages: tenant isolation (404 for foreign ids, no foreign rows) and read-only analysts."""

from __future__ import annotations

import pytest

from audiences.models import Contact, ContactList, Segment, Suppression, SuppressionKind, Tag
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db


def base(tenant) -> str:
    return f"/t/{tenant.slug}/audiences/"


@pytest.fixture
def objects_b(tenant_b, outsider):
    with tenant_scope(tenant_b):
        contact = Contact.objects.create(tenant=tenant_b, first_name="Bella", last_name="Bravo",
                                         email="bella@b.example", phone="+12025550101")
        tag = Tag.objects.create(tenant=tenant_b, name="b-vip")
        contact_list = ContactList.objects.create(tenant=tenant_b, name="B list")
        contact_list.contacts.add(contact)
        contact.tags.add(tag)
        segment = Segment.objects.create(tenant=tenant_b, name="B segment", rules={})
        suppression = Suppression.objects.create(tenant=tenant_b, kind=SuppressionKind.EMAIL,
                                                 value="blocked@b.example", reason="B bounce")
    return {"contact": contact, "tag": tag, "list": contact_list, "segment": segment, "suppression": suppression}


@pytest.fixture
def objects_a(tenant_a, owner):
    with tenant_scope(tenant_a):
        contact = Contact.objects.create(tenant=tenant_a, first_name="Asha", last_name="Alpha",
                                         email="asha@a.example", phone="+919810000001")
        tag = Tag.objects.create(tenant=tenant_a, name="a-vip")
        contact_list = ContactList.objects.create(tenant=tenant_a, name="A list")
        suppression = Suppression.objects.create(tenant=tenant_a, kind=SuppressionKind.EMAIL,
                                                 value="blocked@a.example", reason="A bounce")
    return {"contact": contact, "tag": tag, "list": contact_list, "suppression": suppression}


FOREIGN_GETS = [
    "contacts/{contact}/", "contacts/{contact}/edit/", "lists/{list}/", "contacts/export/segment/{segment}.csv",
    "?tag={tag}", "?list={list}", "contacts/export.csv?tag={tag}", "contacts/export.csv?list={list}",
]
FOREIGN_POSTS = [
    ("contacts/{contact}/edit/", {"first_name": "Hacked", "role": "customer"}),
    ("contacts/{contact}/consent/", {"channel": "email", "state": "opted_out"}),
    ("contacts/{contact}/delete/", {}),
    ("tags/{tag}/rename/", {"name": "hacked"}),
    ("tags/{tag}/delete/", {}),
    ("lists/{list}/", {"name": "hacked"}),
    ("lists/{list}/remove/", {"ids": "{contact}"}),
    ("lists/{list}/delete/", {}),
    ("suppressions/{suppression}/delete/", {}),
    ("contacts/bulk/", {"action": "tag_add", "tag": "{tag}", "scope": "all"}),
    ("contacts/bulk/", {"action": "list_add", "list": "{list}", "scope": "all"}),
]


def _fill(template: str, objs: dict) -> str:
    return template.format(**{key: obj.pk for key, obj in objs.items()})


@pytest.mark.parametrize("path", FOREIGN_GETS)
def test_another_tenants_object_answers_404_on_every_page(owner_client, tenant_a, objects_b, path):
    assert owner_client.get(base(tenant_a) + _fill(path, objects_b)).status_code == 404


@pytest.mark.parametrize(("path", "data"), FOREIGN_POSTS)
def test_another_tenants_object_answers_404_on_every_change_and_stays_unchanged(
        owner_client, tenant_a, tenant_b, objects_b, path, data):
    response = owner_client.post(base(tenant_a) + _fill(path, objects_b),
                                 {k: _fill(v, objects_b) for k, v in data.items()})
    assert response.status_code == 404
    with tenant_scope(tenant_b):
        contact = Contact.objects.get(pk=objects_b["contact"].pk)
        assert (contact.first_name, contact.consent_email) == ("Bella", "unknown")
        assert list(contact.tags.values_list("name", flat=True)) == ["b-vip"]
        assert Tag.objects.filter(name="b-vip").exists() and ContactList.objects.filter(name="B list").exists()
        assert objects_b["list"].contacts.count() == 1 and Suppression.objects.count() == 1


def test_an_outsider_gets_404_for_the_whole_section(outsider_client, tenant_a, objects_a):
    for path in ("", "tags/", "lists/", "suppressions/", f"contacts/{objects_a['contact'].pk}/",
                 "contacts/export.csv"):
        assert outsider_client.get(base(tenant_a) + path).status_code == 404


@pytest.mark.parametrize("path", ["", "tags/", "lists/", "suppressions/"])
def test_list_pages_never_show_another_tenants_rows(owner_client, tenant_a, objects_a, objects_b, path):
    page = owner_client.get(base(tenant_a) + path).content.decode()
    for foreign in ("bella@b.example", "Bella", "b-vip", "B list", "blocked@b.example", "B bounce"):
        assert foreign not in page
    own = {"": "asha@a.example", "tags/": "a-vip", "lists/": "A list", "suppressions/": "blocked@a.example"}[path]
    assert own in page


def test_the_export_holds_only_the_workspaces_contacts(owner_client, tenant_a, objects_a, objects_b):
    body = b"".join(owner_client.get(base(tenant_a) + "contacts/export.csv").streaming_content).decode()
    assert "asha@a.example" in body and "bella@b.example" not in body


ANALYST_POSTS = [
    ("contacts/new/", {"first_name": "New", "role": "customer"}),
    ("contacts/{contact}/edit/", {"first_name": "Changed", "role": "customer"}),
    ("contacts/{contact}/consent/", {"channel": "email", "state": "opted_out"}),
    ("contacts/{contact}/delete/", {}),
    ("contacts/bulk/", {"action": "delete", "scope": "all", "confirmed": "yes"}),
    ("tags/", {"name": "new-tag"}),
    ("tags/{tag}/rename/", {"name": "renamed"}),
    ("tags/{tag}/delete/", {}),
    ("lists/", {"name": "New list"}),
    ("lists/{list}/", {"name": "Renamed list"}),
    ("lists/{list}/remove/", {"ids": "{contact}"}),
    ("lists/{list}/delete/", {}),
    ("suppressions/", {"kind": "email", "value": "x@a.example"}),
    ("suppressions/{suppression}/delete/", {}),
]


@pytest.mark.parametrize(("path", "data"), ANALYST_POSTS)
def test_an_analyst_gets_403_on_every_change(analyst_client, tenant_a, objects_a, path, data):
    response = analyst_client.post(base(tenant_a) + _fill(path, objects_a),
                                   {k: _fill(v, objects_a) for k, v in data.items()})
    assert response.status_code == 403
    with tenant_scope(tenant_a):
        assert Contact.objects.get().first_name == "Asha"
        assert Contact.objects.get().consent_email == "unknown"
        assert Tag.objects.get().name == "a-vip" and ContactList.objects.get().name == "A list"
        assert Suppression.objects.count() == 1


def test_an_analyst_reads_every_page_without_edit_controls(analyst_client, tenant_a, objects_a):
    grid = analyst_client.get(base(tenant_a)).content.decode()
    assert "asha@a.example" in grid and 'id="bulk-form"' not in grid and "Add contact" not in grid
    detail = analyst_client.get(base(tenant_a) + f"contacts/{objects_a['contact'].pk}/")
    assert detail.status_code == 200 and "Record change" not in detail.content.decode()
    for path in ("tags/", "lists/", f"lists/{objects_a['list'].pk}/", "suppressions/"):
        assert analyst_client.get(base(tenant_a) + path).status_code == 200


def test_a_marketer_cannot_lift_a_suppression_but_an_admin_can(marketer_client, owner_client, tenant_a, objects_a):
    url = base(tenant_a) + f"suppressions/{objects_a['suppression'].pk}/delete/"
    assert marketer_client.post(url).status_code == 403
    assert owner_client.post(url).status_code == 302
    with tenant_scope(tenant_a):
        assert not Suppression.objects.exists()


def test_the_sub_navigation_links_the_audiences_areas(owner_client, tenant_a):
    page = owner_client.get(base(tenant_a)).content.decode()
    for href in ("tags/", "lists/", "suppressions/"):
        assert f'href="{base(tenant_a)}{href}"' in page


def test_superusers_browse_audiences_in_django_admin(client, django_user_model, objects_a, objects_b):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-2026")
    client.force_login(admin)
    for model in ("contact", "consentevent", "suppression", "pushsubscription", "tag", "contactlist", "segment",
                  "importjob"):
        assert client.get(f"/admin/audiences/{model}/").status_code == 200
    page = client.get(f"/admin/audiences/contact/{objects_a['contact'].pk}/change/")
    assert page.status_code == 200 and "asha@a.example" in page.content.decode()
