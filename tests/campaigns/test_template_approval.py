"""WhatsApp template approval through the providers' own APIs, against the fake Meta Cloud API and
the fake Twilio Content API over HTTP: what each provider receives on "Submit for approval", how
"Sync status" and the beat task read the review (approved, or rejected with the reason shown on
the templates page), resubmission after a fix, and the errors a marketer can act on."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.base import ContentFile

from campaigns.models import CampaignMedia, MessageTemplate, TemplateStatus
from campaigns.services_templates import templates_sync_due
from campaigns.tasks import templates_sync_all_task
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope
from tests.campaigns.factories_grid import template

pytestmark = pytest.mark.django_db

URL = "/t/tenant-a/campaigns/templates/"
SID = "AC" + "4" * 32


def meta(tenant, **settings) -> ChannelConfig:
    with tenant_scope(tenant):
        config = ChannelConfig(tenant=tenant, name="WhatsApp (Meta)", channel="whatsapp", provider="meta_whatsapp",
                               settings={"phone_number_id": "1055", "waba_id": "2020", **settings},
                               rate_per_second=10, unit_cost=Decimal("0.5"), is_default=True)
        config.set_secrets({"access_token": "EAAG-token", "app_secret": "s"})
        config.save()
    return config


def twilio(tenant) -> ChannelConfig:
    with tenant_scope(tenant):
        config = ChannelConfig(tenant=tenant, name="WhatsApp (Twilio)", channel="whatsapp", provider="twilio_whatsapp",
                               settings={"account_sid": SID, "from_number": "+14155238886"},
                               rate_per_second=10, unit_cost=Decimal("0.5"), is_default=True)
        config.set_secrets({"auth_token": "twilio-token-0123456789"})
        config.save()
    return config


def rich_template(tenant, name="spring_sale"):
    with tenant_scope(tenant):
        return template(tenant, name, body="Hi {{1}}, the spring sale starts {{2}}. See you there!",
                        footer="Reply STOP to opt out",
                        buttons=[{"type": "url", "text": "Shop now", "url": "https://example.com/sale"}])


def state(t: MessageTemplate) -> tuple:
    with tenant_scope(t.tenant):
        t.refresh_from_db()
    return t.status, t.rejection_reason, t.provider_template_id


# --- Meta Cloud API -------------------------------------------------------------------------------

def test_meta_submission_sends_the_components_and_the_review_comes_back_rejected_then_approved(
        marketer_client, tenant_a, fakes):
    meta(tenant_a)
    t = rich_template(tenant_a)
    page = marketer_client.post(f"{URL}{t.pk}/submit/", follow=True).content.decode()
    assert "is submitted for approval" in page and "Sync status" in page
    status, _, provider_id = state(t)
    assert status == TemplateStatus.SUBMITTED and provider_id.isdigit()
    [created] = fakes.received("meta", kind="template_create")
    assert created["waba_id"] == "2020"
    body = created["body"]
    assert (body["name"], body["language"], body["category"]) == ("spring_sale", "en", "MARKETING")
    components = {c["type"]: c for c in body["components"]}
    assert components["BODY"]["text"] == "Hi {{1}}, the spring sale starts {{2}}. See you there!"
    assert components["BODY"]["example"] == {"body_text": [["sample 1", "sample 2"]]}
    assert components["FOOTER"]["text"] == "Reply STOP to opt out"
    assert components["BUTTONS"]["buttons"] == [{"type": "URL", "text": "Shop now", "url": "https://example.com/sale"}]

    # Meta rejects it.
    fakes.configure("meta", template_status="REJECTED", template_rejected_reason="PROMOTIONAL")
    page = marketer_client.post(f"{URL}{t.pk}/sync/", follow=True).content.decode()
    assert "is rejected" in page and "Promotional content in a utility or authentication template" in page
    assert state(t)[:2] == (TemplateStatus.REJECTED,
                            "Promotional content in a utility or authentication template: use the marketing category.")

    # Fixed and resubmitted: Meta edits the same template, then approves it.
    fakes.configure("meta", template_status="APPROVED")
    marketer_client.post(f"{URL}{t.pk}/submit/")
    [edit] = fakes.received("meta", kind="template_edit")
    assert edit["template_id"] == provider_id
    marketer_client.post(f"{URL}{t.pk}/sync/")
    assert state(t) == (TemplateStatus.APPROVED, "", provider_id)


def test_a_media_header_is_uploaded_to_meta_first_and_its_handle_goes_with_the_template(
        marketer_client, tenant_a, fakes, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    meta(tenant_a, app_id="777")
    t = rich_template(tenant_a)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    with tenant_scope(tenant_a):
        t.header_media = CampaignMedia.objects.create(
            tenant=tenant_a, original_name="sale.png", content_type="image/png", kind="image", size_bytes=len(png),
            file=ContentFile(png, name="sale.png"))
        t.save()
    page = marketer_client.post(f"{URL}{t.pk}/submit/", follow=True).content.decode()
    assert "is submitted for approval" in page
    [session] = fakes.received("meta", kind="upload_session")
    assert session["app_id"] == "777"
    assert (session["query"]["file_length"], session["query"]["file_type"]) == (str(len(png)), "image/png")
    [upload] = fakes.received("meta", kind="upload_file")
    assert (upload["size"], upload["file_offset"]) == (len(png), "0")  # the file itself, from the start
    [created] = fakes.received("meta", kind="template_create")
    header = next(c for c in created["body"]["components"] if c["type"] == "HEADER")
    assert header["format"] == "IMAGE" and header["example"]["header_handle"][0].startswith("4::")
    assert created["answered"] == 200  # the fake accepts only handles it gave out


def test_a_media_header_without_the_meta_app_id_says_where_to_set_it(marketer_client, tenant_a, fakes, settings,
                                                                       tmp_path):
    settings.MEDIA_ROOT = tmp_path
    meta(tenant_a)
    t = rich_template(tenant_a)
    with tenant_scope(tenant_a):
        t.header_media = CampaignMedia.objects.create(
            tenant=tenant_a, original_name="sale.png", content_type="image/png", kind="image", size_bytes=8,
            file=ContentFile(b"\x89PNG\r\n\x1a\n", name="sale.png"))
        t.save()
    page = marketer_client.post(f"{URL}{t.pk}/submit/", follow=True).content.decode()
    assert "set the Meta app ID" in page
    assert state(t)[0] == TemplateStatus.DRAFT and fakes.received("meta", kind="template_create") == []


def test_the_marketers_sample_values_go_to_the_reviewers(marketer_client, tenant_a, fakes):
    meta(tenant_a)
    t = rich_template(tenant_a)
    page = marketer_client.post(f"{URL}{t.pk}/", {
        "name": t.name, "language": "en", "category": "marketing", "header_media": "", "body": t.body,
        "footer": t.footer, "samples_text": "Asha\n\n1 March  \n", "button_1_type": "", "button_2_type": "",
        "button_3_type": ""}, follow=True)
    assert page.status_code == 200
    with tenant_scope(tenant_a):
        t.refresh_from_db()
    assert t.samples == ["Asha", "1 March"]  # blank lines dropped, spaces trimmed
    marketer_client.post(f"{URL}{t.pk}/submit/")
    [created] = fakes.received("meta", kind="template_create")
    body = next(c for c in created["body"]["components"] if c["type"] == "BODY")
    assert body["example"] == {"body_text": [["Asha", "1 March"]]}


def test_more_samples_than_variables_are_refused_on_the_form(marketer_client, tenant_a):
    t = rich_template(tenant_a)
    response = marketer_client.post(f"{URL}{t.pk}/", {
        "name": t.name, "language": "en", "category": "marketing", "header_media": "", "body": t.body,
        "footer": t.footer, "samples_text": "Asha\n1 March\nextra", "button_1_type": "", "button_2_type": "",
        "button_3_type": ""})
    assert "The body has 2 variables: give at most 2 samples." in response.content.decode()


def test_a_pending_meta_review_stays_submitted_and_is_marked_checked(marketer_client, tenant_a, fakes):
    meta(tenant_a)
    t = rich_template(tenant_a)
    marketer_client.post(f"{URL}{t.pk}/submit/")
    fakes.configure("meta", template_status="PENDING")
    page = marketer_client.post(f"{URL}{t.pk}/sync/", follow=True).content.decode()
    assert "is submitted" in page
    with tenant_scope(tenant_a):
        t.refresh_from_db()
    assert t.status == TemplateStatus.SUBMITTED and t.status_checked_at is not None


def test_meta_without_a_business_account_id_says_where_to_set_it(marketer_client, tenant_a, fakes):
    meta(tenant_a, waba_id="")
    t = rich_template(tenant_a)
    page = marketer_client.post(f"{URL}{t.pk}/submit/", follow=True).content.decode()
    assert "set the WhatsApp Business Account ID" in page
    assert state(t)[0] == TemplateStatus.DRAFT
    assert fakes.received("meta", kind="template_create") == []


def test_a_meta_refusal_leaves_the_template_a_draft_with_metas_message(marketer_client, tenant_a, fakes):
    meta(tenant_a)
    t = rich_template(tenant_a)
    fakes.fault("meta", status=400, code=100, message="Invalid parameter: the body contains a URL shortener")
    page = marketer_client.post(f"{URL}{t.pk}/submit/", follow=True).content.decode()
    assert "refused the template" in page and "URL shortener" in page
    assert state(t)[0] == TemplateStatus.DRAFT


# --- Twilio Content API ---------------------------------------------------------------------------

def test_twilio_creates_content_then_asks_whatsapp_and_sync_reads_the_approval(marketer_client, tenant_a, fakes):
    twilio(tenant_a)
    t = rich_template(tenant_a)
    marketer_client.post(f"{URL}{t.pk}/submit/")
    status, _, sid = state(t)
    assert status == TemplateStatus.SUBMITTED and sid.startswith("HX")
    [content] = fakes.received("twilio", resource="Content")
    body = content["body"]
    assert (body["friendly_name"], body["language"], body["variables"]) == (
        "spring_sale", "en", {"1": "sample 1", "2": "sample 2"})
    text = "Hi {{1}}, the spring sale starts {{2}}. See you there!\n\nReply STOP to opt out"
    assert body["types"] == {
        "twilio/text": {"body": text},
        "twilio/call-to-action": {"body": text, "actions": [
            {"type": "URL", "title": "Shop now", "url": "https://example.com/sale"}]},
    }
    [approval] = fakes.received("twilio", resource="ApprovalCreate")
    assert approval["sid"] == sid and approval["body"] == {"name": "spring_sale", "category": "MARKETING"}

    marketer_client.post(f"{URL}{t.pk}/sync/")
    assert state(t) == (TemplateStatus.APPROVED, "", sid)  # the SID is what campaigns send with


def test_a_twilio_template_with_a_media_header_is_a_card_with_the_public_file_url(
        marketer_client, tenant_a, fakes, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.SITE_URL = "https://relay.example.com"
    twilio(tenant_a)
    t = rich_template(tenant_a)
    with tenant_scope(tenant_a):
        t.header_media = CampaignMedia.objects.create(
            tenant=tenant_a, original_name="sale.png", content_type="image/png", kind="image", size_bytes=8,
            file=ContentFile(b"\x89PNG\r\n\x1a\n", name="sale.png"))
        t.save()
    marketer_client.post(f"{URL}{t.pk}/submit/")
    assert state(t)[0] == TemplateStatus.SUBMITTED
    [content] = fakes.received("twilio", resource="Content")
    card = content["body"]["types"]["twilio/card"]
    assert card["media"] == [f"https://relay.example.com/m/{t.header_media_id}/sale.png"]
    assert card["actions"] == [{"type": "URL", "title": "Shop now", "url": "https://example.com/sale"}]
    assert (card["title"], card["subtitle"]) == ("Hi {{1}}, the spring sale starts {{2}}. See you there!",
                                                 "Reply STOP to opt out")


def test_a_twilio_rejection_shows_whatsapps_reason(marketer_client, tenant_a, fakes):
    twilio(tenant_a)
    t = rich_template(tenant_a)
    fakes.configure("twilio", template_reviews={"spring_sale": {"status": "rejected",
                                                                "rejection_reason": "Invalid variable format"}})
    marketer_client.post(f"{URL}{t.pk}/submit/")
    page = marketer_client.post(f"{URL}{t.pk}/sync/", follow=True).content.decode()
    assert "Invalid variable format" in page
    assert state(t)[:2] == (TemplateStatus.REJECTED, "Invalid variable format")


# --- the beat task --------------------------------------------------------------------------------

def test_the_beat_task_syncs_templates_in_review_for_every_tenant_and_leaves_the_sandbox_alone(
        tenant_a, tenant_b, fakes, settings, marketer_client):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    meta(tenant_a)
    twilio(tenant_b)
    a = rich_template(tenant_a, "meta_one")
    b = rich_template(tenant_b, "twilio_one")
    marketer_client.post(f"{URL}{a.pk}/submit/")
    from campaigns.services_templates import template_submit

    with tenant_scope(tenant_b):
        template_submit(template=b)
    fakes.configure("twilio", template_status="rejected", template_rejection_reason="Policy")
    assert templates_sync_all_task.apply().get() == 2
    assert state(a)[0] == TemplateStatus.APPROVED
    assert state(b)[:2] == (TemplateStatus.REJECTED, "Policy")
    # Nothing left in review: the next run asks nobody.
    before = len(fakes.received("meta", kind="template_list"))
    with tenant_scope(tenant_a):
        assert templates_sync_due(tenant_id=tenant_a.pk)["checked"] == 0
    assert len(fakes.received("meta", kind="template_list")) == before


def test_the_beat_task_skips_sandbox_templates(tenant_a):
    with tenant_scope(tenant_a):
        config = ChannelConfig(tenant=tenant_a, name="WA sandbox", channel="whatsapp", provider="sandbox", settings={},
                               rate_per_second=10, unit_cost=Decimal("0"), is_default=True)
        config.set_secrets({})
        config.save()
        t = template(tenant_a, status="submitted")
        assert templates_sync_due(tenant_id=tenant_a.pk) == {"checked": 0, "approved": 0, "rejected": 0, "failed": 0}
        t.refresh_from_db()
    assert t.status == TemplateStatus.SUBMITTED
