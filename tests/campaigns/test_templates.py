"""WhatsApp message templates (validation, approval, gating) and starter campaign templates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns.content import content_for
from campaigns.models import Campaign, MessageTemplate, TemplateStatus
from campaigns.selectors import campaign_readiness_errors
from campaigns.selectors_templates import approved_templates
from campaigns.services_templates import body_errors, name_errors
from campaigns.starters import STARTERS, campaign_from_starter
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope
from tests.campaigns.factories_grid import campaign, template

URL = "/t/tenant-a/campaigns/templates/"


def whatsapp_config(tenant, provider="sandbox") -> ChannelConfig:
    with tenant_scope(tenant):
        config = ChannelConfig(tenant=tenant, name=f"WhatsApp {provider}", channel="whatsapp", provider=provider,
                               settings={}, rate_per_second=10, unit_cost=Decimal("0.5"), enabled=True,
                               is_default=True)
        config.set_secrets({})
        config.save()
    return config


def form_data(**overrides) -> dict:
    data = {"name": "spring_sale", "language": "en", "category": "marketing", "header_media": "",
            "body": "Hi {{1}}, the spring sale starts {{2}}. See you there!", "footer": "Reply STOP to opt out",
            "button_1_type": "url", "button_1_text": "Shop now", "button_1_url": "https://example.com/sale",
            "button_2_type": "quick_reply", "button_2_text": "Not now", "button_2_url": "",
            "button_3_type": "", "button_3_text": "", "button_3_url": ""}
    data.update(overrides)
    return data


@pytest.mark.parametrize(("name", "ok"), [("spring_sale_2026", True), ("Spring Sale", False), ("sale-1", False),
                                          ("", False), ("ünï", False)])
def test_whatsapp_name_rules(name, ok):
    assert (name_errors(name) == []) is ok


@pytest.mark.parametrize(("body", "problem"), [
    ("Hi {{1}}, your order {{2}} shipped.", None),
    ("Hello there, no variables at all.", None),
    ("Hi {{1}}, your order {{3}} shipped.", "without gaps: expected {{1}}, {{2}}, {{3}}"),
    ("Hi {{2}}, welcome.", "without gaps"),
    ("{{1}}, your order shipped.", "starts or ends with a variable"),
    ("Your code is {{1}}", "starts or ends with a variable"),
    ("Hi {{ first_name }}, welcome.", "not allowed"),
    ("", "Write the message body"),
    ("x" * 1025, "under 1024 characters"),
])
def test_body_rules(body, problem):
    errors = body_errors(body)
    if problem is None:
        assert errors == []
    else:
        assert any(problem in e for e in errors), errors


def test_creating_a_template_saves_a_draft_with_its_buttons(marketer_client, tenant_a):
    response = marketer_client.post(f"{URL}new/", form_data())
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        t = MessageTemplate.objects.get(name="spring_sale")
    assert t.status == TemplateStatus.DRAFT and t.variable_count == 2
    assert t.buttons == [{"type": "url", "text": "Shop now", "url": "https://example.com/sale"},
                         {"type": "quick_reply", "text": "Not now"}]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"name": "Spring Sale"}, "lower-case letters, digits and underscores"),
    ({"body": "Hi {{1}}, it starts {{3}}. Come!"}, "without gaps"),
    ({"footer": "Hi {{1}}"}, "can&#x27;t contain variables"),
    ({"button_1_url": "http://insecure.example"}, "needs an https:// address"),
    ({"button_2_text": ""}, "Each button needs a label"),
])
def test_invalid_templates_are_re_rendered_with_clear_errors(marketer_client, tenant_a, overrides, message):
    response = marketer_client.post(f"{URL}new/", form_data(**overrides))
    body = response.content.decode()
    assert response.status_code == 200 and message in body
    assert "See you there!" in body or "it starts" in body  # what was typed is kept
    with tenant_scope(tenant_a):
        assert not MessageTemplate.objects.exists()


def test_a_duplicate_name_and_language_is_refused(marketer_client, tenant_a):
    with tenant_scope(tenant_a):
        template(tenant_a, "spring_sale")
    response = marketer_client.post(f"{URL}new/", form_data())
    assert "already exists in this language" in response.content.decode()


def test_editing_an_approved_template_sends_it_back_to_draft(marketer_client, tenant_a):
    with tenant_scope(tenant_a):
        t = template(tenant_a, "spring_sale", status="approved")
    response = marketer_client.post(f"{URL}{t.pk}/", form_data(body="Hi {{1}}, new dates: {{2}}. Come along!"),
                                    follow=True)
    assert "needs a new approval" in response.content.decode()
    with tenant_scope(tenant_a):
        t.refresh_from_db()
    assert t.status == TemplateStatus.DRAFT and "new dates" in t.body


def test_a_template_under_review_cannot_be_edited(marketer_client, tenant_a):
    with tenant_scope(tenant_a):
        t = template(tenant_a, "spring_sale", status="submitted")
    response = marketer_client.post(f"{URL}{t.pk}/", form_data(body="Hi {{1}}, changed {{2}} text here."))
    assert response.status_code == 200 and "being reviewed" in response.content.decode()
    with tenant_scope(tenant_a):
        t.refresh_from_db()
    assert "changed" not in t.body


def test_sandbox_approval_flow(marketer_client, owner_client, tenant_a):
    whatsapp_config(tenant_a)
    with tenant_scope(tenant_a):
        t = template(tenant_a)
    marketer_client.post(f"{URL}{t.pk}/submit/")
    with tenant_scope(tenant_a):
        t.refresh_from_db()
        assert t.status == TemplateStatus.SUBMITTED and t.submitted_at
    # Recording the review is for admins only, and clearly labelled as the Sandbox's.
    assert marketer_client.post(f"{URL}{t.pk}/review/", {"decision": "approve"}).status_code == 403
    page = owner_client.get(URL).content.decode()
    assert "Sandbox: approve" in page and "Sandbox:</strong> no real reviewer" in page
    response = owner_client.post(f"{URL}{t.pk}/review/", {"decision": "reject", "reason": ""}, follow=True)
    assert "Give the reason for the rejection" in response.content.decode()
    owner_client.post(f"{URL}{t.pk}/review/", {"decision": "reject", "reason": "Mentions a competitor"})
    with tenant_scope(tenant_a):
        t.refresh_from_db()
    assert (t.status, t.rejection_reason) == (TemplateStatus.REJECTED, "Mentions a competitor")
    assert "Mentions a competitor" in owner_client.get(URL).content.decode()
    # Fixed and resubmitted, then approved.
    marketer_client.post(f"{URL}{t.pk}/submit/")
    owner_client.post(f"{URL}{t.pk}/review/", {"decision": "approve"})
    with tenant_scope(tenant_a):
        t.refresh_from_db()
    assert (t.status, t.rejection_reason) == (TemplateStatus.APPROVED, "")


def test_submitting_without_a_whatsapp_channel_explains_what_to_do(marketer_client, tenant_a):
    with tenant_scope(tenant_a):
        t = template(tenant_a)
    response = marketer_client.post(f"{URL}{t.pk}/submit/", follow=True)
    assert "Set up a WhatsApp channel first" in response.content.decode()
    with tenant_scope(tenant_a):
        t.refresh_from_db()
    assert t.status == TemplateStatus.DRAFT


def test_no_manual_review_outside_the_sandbox(owner_client, tenant_a):
    whatsapp_config(tenant_a, provider="meta_whatsapp")
    with tenant_scope(tenant_a):
        s = template(tenant_a, "under_review", status="submitted")
    response = owner_client.post(f"{URL}{s.pk}/review/", {"decision": "approve"}, follow=True)
    assert "only for the Sandbox" in response.content.decode()
    with tenant_scope(tenant_a):
        s.refresh_from_db()
    assert s.status == TemplateStatus.SUBMITTED
    # Submission and status sync through the providers' APIs: tests/campaigns/test_template_approval.py.


def test_only_approved_templates_can_be_chosen(in_tenant_a):
    approved = template(in_tenant_a, "ok_one", status="approved")
    for status in ("draft", "submitted", "rejected"):
        template(in_tenant_a, f"not_{status}", status=status)
    assert list(approved_templates(in_tenant_a)) == [approved]
    # And a campaign pointing at an unapproved template can't launch.
    pending = MessageTemplate.objects.get(name="not_submitted")
    c = campaign(in_tenant_a, "WA", channels=("whatsapp",))
    c.contents.update(data={"mode": "template", "template_id": str(pending.pk)})
    assert "The WhatsApp template is not approved." in campaign_readiness_errors(c)
    c.contents.update(data={"mode": "template", "template_id": str(approved.pk)})
    assert "The WhatsApp template is not approved." not in campaign_readiness_errors(c)


def test_a_template_used_by_a_live_campaign_cannot_be_deleted(marketer_client, tenant_a):
    with tenant_scope(tenant_a):
        t = template(tenant_a, status="approved")
        c = campaign(tenant_a, "Running WA", status="scheduled", channels=("whatsapp",))
        c.contents.update(data={"mode": "template", "template_id": str(t.pk)})
    response = marketer_client.post(f"{URL}{t.pk}/delete/", follow=True)
    assert "is used by “Running WA”" in response.content.decode()
    with tenant_scope(tenant_a):
        assert MessageTemplate.objects.filter(pk=t.pk).exists()
        Campaign.objects.filter(pk=c.pk).update(status="completed")
    marketer_client.post(f"{URL}{t.pk}/delete/")
    with tenant_scope(tenant_a):
        assert not MessageTemplate.objects.filter(pk=t.pk).exists()


@pytest.mark.parametrize("key", list(STARTERS))
def test_every_starter_has_valid_content_for_its_channels(key):
    starter = STARTERS[key]
    assert starter.name and starter.summary and starter.channels
    for channel in starter.channels:
        content = content_for(channel, starter.content.get(channel, {}))
        errors = content.errors()
        if channel == "whatsapp":
            errors.pop("template_id", None)  # chosen in the wizard among approved templates
        assert errors == {}, (key, channel, errors)


def test_use_this_creates_a_prefilled_draft(marketer_client, tenant_a, marketer):
    with tenant_scope(tenant_a):
        approved = template(tenant_a, "flash_sale_offer", status="approved",
                            body="Hi {{1}}, {{2}} off with code {{3}} today!")
    response = marketer_client.post("/t/tenant-a/campaigns/starters/flash-sale/use/")
    with tenant_scope(tenant_a):
        c = Campaign.objects.get(name="Flash sale")
        contents = {x.channel: x.data for x in c.contents.all()}
    assert response.status_code == 302 and str(c.pk) in response["Location"]
    assert c.status == "draft" and c.created_by == marketer and c.purpose == "promotional"
    assert c.channels == ["sms", "whatsapp", "email", "push"]
    assert "FLASH30" in contents["sms"]["text"] and "Reply STOP" in contents["sms"]["text"]
    assert contents["whatsapp"]["template_id"] == str(approved.pk) and len(contents["whatsapp"]["variables"]) == 3


def test_starters_leave_out_channels_switched_off(in_tenant_a, owner):
    in_tenant_a.whatsapp_enabled = False
    in_tenant_a.push_enabled = False
    in_tenant_a.save()
    c = campaign_from_starter(tenant=in_tenant_a, actor=owner, key="flash-sale")
    assert c.channels == ["sms", "email"]


def test_unknown_starter_is_404(marketer_client, tenant_a):
    assert marketer_client.post("/t/tenant-a/campaigns/starters/nope/use/").status_code == 404


def test_analyst_sees_templates_but_cannot_change_them(analyst_client, tenant_a):
    with tenant_scope(tenant_a):
        t = template(tenant_a)
    body = analyst_client.get(URL).content.decode()
    assert "spring_sale" in body and "Submit for approval" not in body and ">Use this<" not in body
    assert analyst_client.post(f"{URL}new/", form_data(name="other")).status_code == 403
    assert analyst_client.post(f"{URL}{t.pk}/submit/").status_code == 403
    assert analyst_client.post("/t/tenant-a/campaigns/starters/flash-sale/use/").status_code == 403
    with tenant_scope(tenant_a):
        assert MessageTemplate.objects.count() == 1 and not Campaign.objects.exists()


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("post", ""), ("post", "submit/"), ("post", "sync/"),
                                                ("post", "review/"), ("post", "delete/")])
def test_another_tenants_template_is_404(outsider_client, tenant_a, tenant_b, method, suffix):
    with tenant_scope(tenant_a):
        t = template(tenant_a)
    response = getattr(outsider_client, method)(f"/t/tenant-b/campaigns/templates/{t.pk}/{suffix}",
                                                {"decision": "approve"} if method == "post" else None)
    assert response.status_code == 404
    with tenant_scope(tenant_a):
        assert MessageTemplate.objects.filter(pk=t.pk, status="draft").exists()
