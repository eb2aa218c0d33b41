"""The contacts grid: search, filters, keyset pages and bulk actions."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.utils import timezone

from audiences import selectors
from audiences.models import ConsentState, Contact, ContactList, Tag
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db


def grid(tenant) -> str:
    return f"/t/{tenant.slug}/audiences/"


def make(tenant, n: int, **fields) -> Contact:
    defaults = {"first_name": f"Person{n}", "last_name": "Test", "email": f"p{n}@example.com",
                "phone": f"+9198100{n:05d}"}
    return Contact.objects.create(tenant=tenant, **{**defaults, **fields})


def ids_on(page_html: str) -> list[str]:
    return re.findall(r'name="ids" value="([0-9a-f-]{36})"', page_html)


@pytest.fixture
def people(in_tenant_a):
    tenant = in_tenant_a
    vip = Tag.objects.create(tenant=tenant, name="vip")
    testers = ContactList.objects.create(tenant=tenant, name="Testers")
    asha = make(tenant, 1, first_name="Asha", last_name="Kapoor", city="Pune", email="asha@shop.example")
    ravi = make(tenant, 2, first_name="Ravi", last_name="Iyer", city="Mumbai", role="partner",
                consent_sms=ConsentState.OPTED_OUT)
    meera = make(tenant, 3, first_name="Meera", last_name="Kapoor", city="pune", phone="+919876543210",
                 consent_sms=ConsentState.OPTED_IN)
    asha.tags.add(vip)
    testers.contacts.add(meera)
    return {"asha": asha, "ravi": ravi, "meera": meera, "vip": vip, "testers": testers}


@pytest.mark.parametrize(("query", "expected"), [
    ("q=kapoor", {"asha", "meera"}),
    ("q=asha+kapoor", {"asha"}),
    ("q=shop.example", {"asha"}),
    ("q=Asha%40Shop.example", {"asha"}),    # a whole address is an exact, indexed match
    ("q=98765+43210", {"meera"}),           # phone typed with a space matches by digits
    ("q=%2B91+98765-43210", {"meera"}),
    ("q=098765+43210", {"meera"}),          # national form, read with the workspace's region
    ("q=(987)", {"meera"}),
    ("role=partner", {"ravi"}),
    ("city=PUNE", {"asha", "meera"}),       # city matches whatever its case
    ("consent_channel=sms&consent_state=opted_out", {"ravi"}),
    ("consent_channel=sms&consent_state=opted_in", {"meera"}),
    ("q=kapoor&city=pune&consent_channel=sms&consent_state=opted_in", {"meera"}),
    ("reachable=sms", {"meera"}),           # SMS needs an explicit opt-in
    ("reachable=email", {"asha", "ravi", "meera"}),
])
def test_search_and_filters_narrow_the_grid(owner_client, tenant_a, people, query, expected):
    html = owner_client.get(f"{grid(tenant_a)}?{query}").content.decode()
    assert set(ids_on(html)) == {str(people[name].pk) for name in expected}


def test_tag_and_list_filters(owner_client, tenant_a, people):
    by_tag = owner_client.get(f"{grid(tenant_a)}?tag={people['vip'].pk}").content.decode()
    by_list = owner_client.get(f"{grid(tenant_a)}?list={people['testers'].pk}").content.decode()
    assert ids_on(by_tag) == [str(people["asha"].pk)]
    assert ids_on(by_list) == [str(people["meera"].pk)]


def test_a_bad_filter_value_is_ignored_not_a_500(owner_client, tenant_a, people):
    response = owner_client.get(f"{grid(tenant_a)}?role=wizard&consent_state=maybe&after=garbage")
    assert response.status_code == 200 and len(ids_on(response.content.decode())) == 3


def test_keyset_pages_cover_every_row_exactly_once_both_ways(owner_client, tenant_a, in_tenant_a):
    created = [make(tenant_a, n) for n in range(123)]
    # Ties on created_at must not lose or repeat rows: the id breaks them.
    same_moment = timezone.now() - dt.timedelta(days=1)
    Contact.objects.filter(pk__in=[c.pk for c in created[40:70]]).update(created_at=same_moment)
    seen, url, pages = [], grid(tenant_a), []
    while url:
        html = owner_client.get(url).content.decode()
        pages.append(url)
        seen.extend(ids_on(html))
        match = re.search(r'rel="next" href="\?([^"]+)"', html)
        url = f"{grid(tenant_a)}?{match.group(1).replace('&amp;', '&')}" if match else None
    assert len(pages) == 3 and len(seen) == 123 and set(seen) == {str(c.pk) for c in created}
    expected_order = list(Contact.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    assert seen == [str(pk) for pk in expected_order]
    # Walking back from the last page gives the same pages in reverse.
    html = owner_client.get(pages[-1]).content.decode()
    back = []
    while True:
        match = re.search(r'rel="prev" href="\?([^"]+)"', html)
        if not match:
            break
        html = owner_client.get(f"{grid(tenant_a)}?{match.group(1).replace('&amp;', '&')}").content.decode()
        back = ids_on(html) + back
    assert back + seen[100:] == seen


def test_the_pager_keeps_the_filter(owner_client, tenant_a, in_tenant_a):
    for n in range(60):
        make(tenant_a, n, city="Pune" if n % 2 else "Delhi")
    html = owner_client.get(f"{grid(tenant_a)}?city=Pune").content.decode()
    next_query = re.search(r'rel="next" href="\?([^"]+)"', html)
    assert next_query is None  # 30 in Pune fit one page
    assert len(ids_on(html)) == 30 and "30 contacts" in html


def test_the_total_is_capped_so_big_tables_are_not_counted(in_tenant_a):
    for n in range(5):
        make(in_tenant_a, n)
    contacts = Contact.objects.filter(tenant=in_tenant_a)
    assert selectors.count_capped(contacts, cap=3) == (3, False)
    assert selectors.count_capped(contacts, cap=10) == (5, True)


def bulk(client, tenant, **data):
    return client.post(f"{grid(tenant)}contacts/bulk/", data)


def test_bulk_tag_the_ticked_rows_and_remove_from_all_matching(owner_client, tenant_a, people, tenant_b):
    new = Tag.objects.create(tenant=tenant_a, name="webinar")
    response = bulk(owner_client, tenant_a, action="tag_add", tag=new.pk, scope="selected",
                    ids=[people["asha"].pk, people["ravi"].pk, "not-a-uuid"], filter="")
    assert response.status_code == 302
    assert set(new.contacts.values_list("first_name", flat=True)) == {"Asha", "Ravi"}
    again = bulk(owner_client, tenant_a, action="tag_add", tag=new.pk, scope="selected", ids=[people["asha"].pk])
    assert again.status_code == 302 and new.contacts.count() == 2  # tagging twice changes nothing
    bulk(owner_client, tenant_a, action="tag_remove", tag=new.pk, scope="all", filter="city=Mumbai")
    assert list(new.contacts.values_list("first_name", flat=True)) == ["Asha"]


def test_bulk_add_everyone_matching_the_filter_to_a_list_then_remove(owner_client, tenant_a, people):
    newsletter = ContactList.objects.create(tenant=tenant_a, name="Newsletter")
    response = bulk(owner_client, tenant_a, action="list_add", list=newsletter.pk, scope="all",
                    filter="q=kapoor")
    assert response.status_code == 302 and response["Location"].endswith("?q=kapoor")
    assert set(newsletter.contacts.values_list("first_name", flat=True)) == {"Asha", "Meera"}
    bulk(owner_client, tenant_a, action="list_remove", list=newsletter.pk, scope="selected",
         ids=[people["meera"].pk])
    assert list(newsletter.contacts.values_list("first_name", flat=True)) == ["Asha"]


def test_bulk_delete_asks_for_confirmation_first(owner_client, tenant_a, people):
    ask = bulk(owner_client, tenant_a, action="delete", scope="all", filter="city=pune")
    assert ask.status_code == 200 and "2 contacts" in ask.content.decode()
    assert Contact.objects.count() == 3
    done = bulk(owner_client, tenant_a, action="delete", scope="all", filter="city=pune", confirmed="yes")
    assert done.status_code == 302
    assert list(Contact.objects.values_list("first_name", flat=True)) == ["Ravi"]


def test_bulk_ticked_ids_of_another_tenant_are_ignored(owner_client, tenant_a, tenant_b, people):
    with tenant_scope(tenant_b):
        foreign = make(tenant_b, 9)
    bulk(owner_client, tenant_a, action="delete", scope="selected", ids=[foreign.pk], confirmed="yes")
    junk = bulk(owner_client, tenant_a, action="tag_add", tag=people["vip"].pk, scope="selected", ids=["junk"])
    assert junk.status_code == 302 and people["vip"].contacts.count() == 1
    with tenant_scope(tenant_b):
        assert Contact.objects.filter(pk=foreign.pk).exists()


def test_bulk_without_a_selection_or_a_tag_says_so(owner_client, tenant_a, people):
    vip = people["vip"]
    nothing = bulk(owner_client, tenant_a, action="tag_add", tag=vip.pk, scope="selected")
    messages = [str(m) for m in nothing.wsgi_request._messages]
    assert "Tick at least one contact" in messages[0]
    no_tag = bulk(owner_client, tenant_a, action="tag_add", scope="all")
    assert "Choose a tag." in [str(m) for m in no_tag.wsgi_request._messages]
    assert vip.contacts.count() == 1
    assert bulk(owner_client, tenant_a, action="explode", scope="all").status_code == 400


def test_a_small_filtered_selection_pages_the_same_when_sorted_instead_of_walked(in_tenant_a):
    for n in range(7):
        make(in_tenant_a, 100 + n, last_name="Pagewalker")
    contacts = selectors.contacts_filtered(tenant_id=in_tenant_a.pk, q="pagewalker")

    def walk(few: bool) -> list:
        seen, after = [], ""
        while True:
            page = selectors.keyset_page(contacts, after=after, size=3, few=few)
            seen += [c.pk for c in page.rows]
            if not page.next_cursor:
                back = selectors.keyset_page(contacts, before=selectors.Cursor.of(page.rows[0]).encode(), size=3,
                                             few=few)
                return seen, [c.pk for c in back.rows]
            after = page.next_cursor

    assert walk(True) == walk(False)
    assert len(walk(True)[0]) == 7


def test_a_number_fragment_matches_phones_only_and_words_match_any_of_the_four_columns(owner_client, tenant_a, people):
    # The digits are in Ravi's email, not in his phone: a number fragment means a phone.
    make(tenant_a, 4, first_name="Ravi", last_name="Shah", email="ravi.55501@example.com", phone="+919811100000")
    shah = Contact.objects.get(last_name="Shah")
    html = owner_client.get(f"{grid(tenant_a)}?q=55501").content.decode()
    assert str(shah.pk) not in ids_on(html)
    # A name and a fragment of the number together narrow to the one contact.
    html = owner_client.get(f"{grid(tenant_a)}?q=ravi+98111").content.decode()
    assert ids_on(html) == [str(shah.pk)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes are PostgreSQL only")
@pytest.mark.parametrize("text", ["kapoor", "asha kapoor", "98765", "(987)"])
def test_fragment_searches_can_use_the_trigram_index(in_tenant_a, people, text):
    # At a million contacts the grid's search must not read the tenant's every row: the query's
    # expression has to be the index's. With scans forbidden, a usable index is what is left (the
    # search's own condition alone, or the tenant's indexes would be the cheaper way on a few rows).
    query = Contact._base_manager.filter(selectors.search_q(text, region="IN"))
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("SET LOCAL enable_indexscan = off")
        cur.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert "contact_search_all_trgm" in plan
