"""Segment pages: list, editor (rule builder + live preview), delete; the builder's form parser."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils.datastructures import MultiValueDict

from audiences.forms_segments import builder_apply, rules_from_data
from audiences.models import Contact, ContactList, PushSubscription, Segment, Tag
from tenants.scoping import tenant_scope
from tenants.urls_helpers import tenant_reverse

pytestmark = pytest.mark.django_db


class FormState(HTMLParser):
    """What a browser would submit for the page's #segment-form (no submit button pressed)."""

    def __init__(self) -> None:
        super().__init__()
        self.data = MultiValueDict()
        self._in_form = False
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "segment-form":
            self._in_form = True
        if not self._in_form or "disabled" in a:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind == "checkbox" and "checked" not in a:
                return
            self.data.appendlist(a["name"], a.get("value", ""))
        elif tag == "textarea":
            self._select = None
        elif tag == "select":
            self._select, self._options = a.get("name"), []
        elif tag == "option" and self._select:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        if tag == "select" and self._select:
            chosen = [v for v, selected in self._options if selected] or [self._options[0][0]]
            self.data.appendlist(self._select, chosen[0])
            self._select = None


def form_state(html: str) -> MultiValueDict:
    parser = FormState()
    parser.feed(html)
    return parser.data


def url(tenant, name, *args):
    return tenant_reverse(tenant, f"audiences:{name}", *args)


@pytest.fixture
def audience(tenant_a, tenant_b):
    """Three contacts in A (two in Pune), one Pune contact in B, tags and a list in each tenant."""
    with tenant_scope(tenant_a):
        vip = Tag.objects.create(tenant=tenant_a, name="vip")
        Tag.objects.create(tenant=tenant_a, name="newsletter")
        testers = ContactList.objects.create(tenant=tenant_a, name="Testers")
        asha = Contact.objects.create(tenant=tenant_a, first_name="Asha", email="asha@example.com",
                                      phone="+919800000001", city="Pune", consent_sms="opted_in",
                                      attributes={"ltv": 5000})
        ravi = Contact.objects.create(tenant=tenant_a, first_name="Ravi", email="ravi@example.com", city="pune",
                                      consent_email="opted_out")
        Contact.objects.create(tenant=tenant_a, first_name="Meera", email="meera@example.com", city="Delhi")
        asha.tags.add(vip)
        testers.contacts.add(ravi)
        PushSubscription.objects.create(tenant=tenant_a, contact=asha, endpoint="https://push.example/a",
                                        p256dh="k", auth="a")
    with tenant_scope(tenant_b):
        Tag.objects.create(tenant=tenant_b, name="b-only-tag")
        Contact.objects.create(tenant=tenant_b, first_name="Bob", email="bob@example.com", city="Pune")
    return {"vip": vip, "testers": testers}


def pune_segment(tenant, name="Pune people", rules=None) -> Segment:
    with tenant_scope(tenant):
        return Segment.objects.create(tenant=tenant, name=name, rules=rules or {
            "match": "all", "rules": [{"field": "city", "op": "in", "value": ["Pune"]}]})


# --- the parser -------------------------------------------------------------------------------


def test_flat_inputs_become_the_rule_tree_in_order():
    data = QueryDict(mutable=True)
    data.update({"match": "any", "rules-0-kind": "rule", "rules-0-field": "city", "rules-0-op": "in",
                 "rules-0-value": " Pune, Mumbai ,", "rules-1-kind": "group", "rules-1-match": "all",
                 "rules-1.0-kind": "rule", "rules-1.0-field": "last_active", "rules-1.0-op": "within_days",
                 "rules-1.0-value": "30", "rules-1.1-kind": "rule", "rules-1.1-field": "consent",
                 "rules-1.1-op": "is_not", "rules-1.1-channel": "sms", "rules-1.1-value": "opted_out",
                 "rules-10-kind": "rule", "rules-10-field": "attribute", "rules-10-op": "exists",
                 "rules-10-key": "plan", "rules-10-value": "ignored", "rules-2-kind": "rule", "rules-2-field": "tag",
                 "rules-2-op": "all"})
    data.setlist("rules-2-value", ["t1", "t2"])
    assert rules_from_data(data) == {"match": "any", "rules": [
        {"field": "city", "op": "in", "value": ["Pune", "Mumbai"]},
        {"match": "all", "rules": [
            {"field": "last_active", "op": "within_days", "value": 30},
            {"field": "consent", "op": "is_not", "channel": "sms", "value": "opted_out"},
        ]},
        {"field": "tag", "op": "all", "value": ["t1", "t2"]},
        {"field": "attribute", "op": "exists", "key": "plan"},  # 10 sorts after 2, numerically
    ]}


def test_a_stale_op_falls_back_to_the_fields_first_and_rows_of_a_missing_group_are_dropped():
    data = QueryDict("rules-0-kind=rule&rules-0-field=pincode&rules-0-op=within_days&rules-0-value=411"
                     "&rules-3.0-kind=rule&rules-3.0-field=city&rules-3.0-op=in&rules-3.0-value=Pune")
    assert rules_from_data(data) == {"match": "all", "rules": [{"field": "pincode", "op": "in", "value": ["411"]}]}


def test_non_numeric_days_are_kept_so_the_compiler_can_name_the_problem():
    data = QueryDict("rules-0-kind=rule&rules-0-field=last_active&rules-0-op=within_days&rules-0-value=a+week")
    assert rules_from_data(data)["rules"][0]["value"] == "a week"


def test_builder_buttons_add_remove_and_reset_a_rule_whose_field_changed():
    data = QueryDict("rules-0-kind=group&rules-0-match=any&rules-0.0-kind=rule&rules-0.0-field=city"
                     "&rules-0.0-op=in&rules-0.0-value=Pune&rules-1-kind=rule&rules-1-field=consent"
                     "&rules-1-op=in&rules-1-value=Pune")
    assert len(builder_apply(data, "add_rule:0")["rules"][0]["rules"]) == 2
    assert len(builder_apply(data, "add_rule:")["rules"]) == 3
    assert builder_apply(data, "add_group")["rules"][-1]["match"] == "any"
    assert builder_apply(data, "remove:0")["rules"] == [builder_apply(data, "refresh")["rules"][1]]
    assert builder_apply(data, "remove:0.0")["rules"][0] == {"match": "any", "rules": []}
    assert builder_apply(data, "field:1")["rules"][1] == {"field": "consent", "op": "is", "value": "opted_in",
                                                         "channel": "email"}
    assert builder_apply(data, "remove:7") == builder_apply(data, "refresh")


def test_the_editor_renders_a_stored_tree_back_into_inputs_that_parse_to_the_same_tree(
        marketer_client, tenant_a, audience):
    rules = {"match": "any", "rules": [
        {"field": "city", "op": "in", "value": ["Pune", "Mumbai"]},
        {"field": "role", "op": "in", "value": ["partner"]},
        {"field": "pincode", "op": "prefix", "value": ["411"]},
        {"field": "tag", "op": "none", "value": [str(audience["vip"].pk)]},
        {"match": "all", "rules": [
            {"field": "list", "op": "not_in", "value": [str(audience["testers"].pk)]},
            {"field": "last_active", "op": "not_within_days", "value": 90},
            {"field": "created", "op": "before", "value": "2026-01-31"},
            {"field": "created", "op": "within_days", "value": 7},
            {"field": "consent", "op": "is", "channel": "whatsapp", "value": "opted_in"},
            {"field": "attribute", "op": "gte", "key": "ltv", "value": "4000"},
            {"field": "attribute", "op": "exists", "key": "plan"},
            {"field": "has", "op": "no", "value": "telegram"},
        ]},
    ]}
    segment = pune_segment(tenant_a, rules=rules)
    response = marketer_client.get(url(tenant_a, "segment_edit", segment.pk))
    assert response.status_code == 200
    assert rules_from_data(form_state(response.content.decode())) == rules


# --- list -------------------------------------------------------------------------------------


def test_the_list_shows_each_segments_live_count(marketer_client, tenant_a, audience):
    pune_segment(tenant_a)
    pune_segment(tenant_a, name="Broken", rules={"rules": [{"field": "city", "op": "in", "value": []}]})
    response = marketer_client.get(url(tenant_a, "segment_list"))
    html = response.content.decode()
    assert "Pune people" in html and ">2</td>" in html  # Bob in tenant B is not counted
    assert "Rules need fixing" in html and "City: choose at least one value." in html


def test_the_list_runs_one_count_per_segment(marketer_client, tenant_a, audience):
    for n in range(3):
        pune_segment(tenant_a, name=f"Segment {n}")
    marketer_client.get(url(tenant_a, "segment_list"))  # warm the session and membership caches
    with CaptureQueriesContext(connection) as queries:
        marketer_client.get(url(tenant_a, "segment_list"))
    # Contact counts only: the sidebar's "Needs a human" count (campaigns_autoreply) is not a segment's.
    counts = [q["sql"] for q in queries.captured_queries
              if "COUNT(" in q["sql"].upper() and "campaigns_autoreply" not in q["sql"]]
    assert len(counts) == 3


# --- editor: create, edit, invalid input -----------------------------------------------------------


def _rule_post(name="Pune VIPs", **extra):
    return {"name": name, "description": "", "match": "all", "rules-0-kind": "rule", "rules-0-field": "city",
            "rules-0-op": "in", "rules-0-value": "Pune", **extra}


def test_a_marketer_creates_a_segment_from_the_builder_inputs(marketer_client, marketer, tenant_a, audience):
    response = marketer_client.post(url(tenant_a, "segment_new"), _rule_post())
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        segment = Segment.objects.get(tenant=tenant_a, name="Pune VIPs")
    assert segment.rules == {"match": "all", "rules": [{"field": "city", "op": "in", "value": ["Pune"]}]}
    assert segment.created_by == marketer


def test_editing_saves_new_rules(marketer_client, tenant_a, audience):
    segment = pune_segment(tenant_a)
    response = marketer_client.post(url(tenant_a, "segment_edit", segment.pk),
                                    _rule_post(name="Delhi", **{"rules-0-value": "Delhi"}))
    assert response.status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.rules["rules"][0]["value"]) == ("Delhi", ["Delhi"])


@pytest.mark.parametrize(("post", "message"), [
    (_rule_post(name=""), "Give the segment a name."),
    (_rule_post(name="pune PEOPLE"), "A segment with this name already exists."),
    (_rule_post(**{"rules-0-value": " , "}), "Fix the rules before saving: City: choose at least one value."),
    (_rule_post(**{"rules-0-field": "attribute", "rules-0-op": "gt", "rules-0-key": "ltv", "rules-0-value": "lots"}),
     "Custom attribute: numeric comparisons need a number."),
])
def test_invalid_input_re_renders_with_the_message_and_keeps_what_was_typed(
        marketer_client, tenant_a, audience, post, message):
    pune_segment(tenant_a)
    response = marketer_client.post(url(tenant_a, "segment_new"), {**post, "description": "for the Diwali sale"})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "for the Diwali sale" in html
    state = form_state(html)
    assert state["name"] == post["name"]
    posted = QueryDict(mutable=True)
    posted.update(post)
    assert rules_from_data(state) == rules_from_data(posted)
    with tenant_scope(tenant_a):
        assert Segment.objects.filter(tenant=tenant_a).count() == 1


def test_a_builder_button_without_javascript_changes_the_form_and_saves_nothing(marketer_client, tenant_a, audience):
    response = marketer_client.post(url(tenant_a, "segment_new"), {**_rule_post(), "action": "add_group"})
    assert response.status_code == 200
    assert rules_from_data(form_state(response.content.decode()))["rules"][1] == {
        "match": "any", "rules": [{"field": "city", "op": "in", "value": []}]}
    with tenant_scope(tenant_a):
        assert not Segment.objects.filter(tenant=tenant_a).exists()


def test_tag_and_list_choices_are_the_tenants_own(marketer_client, tenant_a, audience):
    post = {"rules-0-kind": "rule", "rules-0-field": "tag", "rules-0-op": "any"}
    html = marketer_client.get(url(tenant_a, "segment_builder"), post).content.decode()
    assert "vip" in html and "newsletter" in html and "b-only-tag" not in html
    post["rules-0-field"] = "list"
    assert "Testers" in marketer_client.get(url(tenant_a, "segment_builder"), post).content.decode()


# --- preview and builder endpoints ---------------------------------------------------------------


def test_the_preview_counts_matches_reach_per_channel_and_shows_a_sample(marketer_client, tenant_a, audience):
    html = marketer_client.get(url(tenant_a, "segment_preview"), _rule_post()).content.decode()
    assert '<span class="value" data-testid="preview-total">2</span> matching contacts' in html
    # Asha: email, sms opt-in, push subscription. Ravi opted out of email.
    assert '<span class="badge badge-email">Email</span><span class="num" data-testid="reach-email">1</span>' in html
    assert '<span class="badge badge-sms">SMS</span><span class="num" data-testid="reach-sms">1</span>' in html
    assert '<span class="badge badge-push">Push</span><span class="num" data-testid="reach-push">1</span>' in html
    assert "asha@example.com" in html and "ravi@example.com" in html
    assert "meera@example.com" not in html and "bob@example.com" not in html


def test_the_preview_shows_a_bad_rules_message_instead_of_counts(marketer_client, tenant_a, audience):
    post = _rule_post(**{"rules-0-field": "last_active", "rules-0-op": "within_days", "rules-0-value": "soon"})
    html = marketer_client.get(url(tenant_a, "segment_preview"), post).content.decode()
    assert "Last active: give a whole number of days." in html
    assert "matching contact" not in html


def test_the_preview_sample_is_ten_contacts(marketer_client, tenant_a, audience):
    with tenant_scope(tenant_a):
        Contact.objects.bulk_create([Contact(tenant=tenant_a, first_name=f"N{n}", city="Pune") for n in range(12)])
    html = marketer_client.get(url(tenant_a, "segment_preview"), _rule_post()).content.decode()
    assert '<span class="value" data-testid="preview-total">14</span>' in html
    assert html.count("<tr>") - 1 == 10  # header row + ten contacts


def test_the_builder_re_renders_with_the_new_row_and_the_preview_out_of_band(marketer_client, tenant_a, audience):
    response = marketer_client.get(url(tenant_a, "segment_builder"), {**_rule_post(), "action": "add_rule:"})
    html = response.content.decode()
    assert 'id="rule-builder"' in html and 'name="rules-1-field"' in html
    assert 'id="preview"' in html and 'hx-swap-oob="true"' in html
    assert "City: choose at least one value." in html  # the new, empty row


# --- permissions and tenancy --------------------------------------------------------------------


def test_an_analyst_can_look_and_preview_but_not_save_or_delete(analyst_client, tenant_a, audience):
    segment = pune_segment(tenant_a)
    page = analyst_client.get(url(tenant_a, "segment_edit", segment.pk)).content.decode()
    assert "read-only" in page and "Save changes" not in page
    assert analyst_client.get(url(tenant_a, "segment_preview"), _rule_post()).status_code == 200
    assert analyst_client.post(url(tenant_a, "segment_edit", segment.pk), _rule_post(name="X")).status_code == 403
    assert analyst_client.post(url(tenant_a, "segment_delete", segment.pk)).status_code == 403
    assert analyst_client.post(url(tenant_a, "segment_new"), _rule_post()).status_code == 403
    segment.refresh_from_db()
    assert segment.name == "Pune people"


@pytest.mark.parametrize("name", ["segment_edit", "segment_delete"])
def test_another_tenants_segment_answers_404(outsider_client, tenant_b, tenant_a, audience, name):
    segment = pune_segment(tenant_a)
    assert outsider_client.get(url(tenant_b, name, segment.pk)).status_code == 404
    assert outsider_client.post(url(tenant_b, name, segment.pk), _rule_post(name="Taken over")).status_code == 404
    segment.refresh_from_db()
    assert segment.name == "Pune people"


def test_an_outsider_cannot_reach_tenant_a_pages(outsider_client, tenant_a):
    assert outsider_client.get(url(tenant_a, "segment_list")).status_code == 404
    assert outsider_client.get(url(tenant_a, "segment_preview")).status_code == 404


def test_deleting_asks_first_then_removes_the_segment_and_no_contact(marketer_client, tenant_a, audience):
    segment = pune_segment(tenant_a)
    confirm = marketer_client.get(url(tenant_a, "segment_delete", segment.pk))
    assert "Delete segment “Pune people”?" in confirm.content.decode()
    with tenant_scope(tenant_a):
        assert Segment.objects.filter(pk=segment.pk).exists()  # a GET changes nothing
    response = marketer_client.post(url(tenant_a, "segment_delete", segment.pk))
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        assert not Segment.objects.filter(pk=segment.pk).exists()
        assert Contact.objects.filter(tenant=tenant_a).count() == 3
