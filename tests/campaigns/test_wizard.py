"""The campaign wizard through the test client: every step, its validation errors, moving back and
forth without losing anything, the review's actions, refusals and tenant isolation."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audiences.models import ConsentState, Contact, ContactList, Segment, Tag
from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignStatus,
    ChannelBudget,
    MessageTemplate,
    Recurrence,
    SendMode,
    TemplateStatus,
)
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope

IN = ConsentState.OPTED_IN


def url(tenant, path: str) -> str:
    return f"/t/{tenant.slug}/campaigns/{path}"


def step_url(campaign: Campaign, step: str) -> str:
    return url(campaign.tenant, f"{campaign.pk}/edit/{step}/")


def sandbox(tenant, channel: str, *, rate: float = 10.0, cost: str = "0.01") -> ChannelConfig:
    config = ChannelConfig(tenant=tenant, name=f"{channel} sandbox", channel=channel, provider="sandbox",
                           settings={}, rate_per_second=rate, unit_cost=Decimal(cost), is_default=True)
    config.set_secrets({})
    config.save()
    return config


def make_campaign(tenant, channels=("email", "sms"), **kw) -> Campaign:
    with tenant_scope(tenant):
        return Campaign.objects.create(tenant=tenant, name="Diwali sale", channels=list(channels), **kw)


def general_data(**over):
    data = {"name": "Diwali sale", "description": "Festive offers", "type": "broadcast", "purpose": "promotional",
            "channels": ["email", "sms"], "notes": "", "nav": "next"}
    data.update(over)
    return data


def content_data(**over):
    data = {"email-subject": "Hi {{ first_name }}", "email-preheader": "", "email-html": "<p>20% off</p>",
            "email-text": "", "email-channel_config": "",
            "sms-text": "Hi {{ first_name | default: \"there\" }}, 20% off. Reply STOP to opt out",
            "sms-channel_config": "", "nav": "next"}
    data.update(over)
    return data


def budget_data(**over):
    data = {"budget_total": "100", "currency": "INR", "alloc_email": "40", "alloc_sms": "60", "send_mode": "now",
            "scheduled_date": "", "scheduled_time": "", "schedule_timezone": "Asia/Kolkata", "recurrence": "none",
            "recurrence_rule": "", "recurrence_end": "", "nav": "next"}
    data.update(over)
    return data


def advanced_data(**over):
    data = {"calling_hours_start": "", "calling_hours_end": "", "calling_hours_mode": "recipient",
            "calling_hours_timezone": "", "throttle_per_minute": "", "batch_delay_seconds": "0",
            "whatsapp_list_size": "256", "track_delivery": "on", "track_reads": "on", "track_links": "on",
            "nav": "next"}
    data.update(over)
    return data


@pytest.fixture
def configs(tenant_a):
    with tenant_scope(tenant_a):
        return {"email": sandbox(tenant_a, "email"), "sms": sandbox(tenant_a, "sms")}


@pytest.fixture
def contacts(tenant_a):
    with tenant_scope(tenant_a):
        return [Contact.objects.create(tenant=tenant_a, first_name=f"C{n}", email=f"c{n}@example.com",
                                       phone=f"+9198000{n:05d}", consent_email=IN, consent_sms=IN)
                for n in range(3)]


def test_the_wizard_end_to_end_creates_a_draft_and_sends_it(marketer_client, tenant_a, configs, contacts, settings,
                                                              django_capture_on_commit_callbacks):
    settings.OPENAI_API_KEY = "sk-test"
    page = marketer_client.get(url(tenant_a, "new/"))
    assert page.status_code == 200
    assert b"Campaign name" in page.content and b"WhatsApp" in page.content

    response = marketer_client.post(url(tenant_a, "new/"), general_data())
    with tenant_scope(tenant_a):
        campaign = Campaign.objects.get()
    assert campaign.status == CampaignStatus.DRAFT and campaign.channels == ["email", "sms"]
    assert response.status_code == 302 and response["Location"].endswith("/edit/content/")

    page = marketer_client.get(step_url(campaign, "content"))
    assert b"SMS segment" in page.content and b"Generate variants" in page.content
    response = marketer_client.post(step_url(campaign, "content"), content_data())
    assert response["Location"].endswith("/edit/audience/")

    page = marketer_client.get(step_url(campaign, "audience"))
    assert b"3</strong> contacts in this audience" not in page.content  # nothing chosen yet
    response = marketer_client.post(step_url(campaign, "audience"), {"target": "everyone", "nav": "next"})
    assert response["Location"].endswith("/edit/budget/")

    response = marketer_client.post(step_url(campaign, "budget"), budget_data())
    assert response["Location"].endswith("/edit/advanced/")
    response = marketer_client.post(step_url(campaign, "advanced"), advanced_data(throttle_per_minute="600"))
    assert response["Location"].endswith("/edit/review/")

    review = marketer_client.get(step_url(campaign, "review"))
    assert review.status_code == 200
    body = review.content.decode()
    assert "Recipients per channel" in body and "Hi C0" in body  # preview for a real sample contact
    assert "Send now" in body

    with django_capture_on_commit_callbacks(execute=False):
        response = marketer_client.post(url(tenant_a, f"{campaign.pk}/wizard/launch/"))
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        campaign.refresh_from_db()
        assert campaign.status == CampaignStatus.ACTIVE
        assert campaign.runs.count() == 1
        assert campaign.throttle_per_minute == 600
        assert {b.channel: b.allocated for b in ChannelBudget.objects.filter(campaign=campaign)} == {
            "email": Decimal("40"), "sms": Decimal("60")}


def test_general_step_errors_show_inline_and_nothing_is_created(marketer_client, tenant_a):
    response = marketer_client.post(url(tenant_a, "new/"), general_data(name="  ", channels=[]))
    assert response.status_code == 400
    body = response.content.decode()
    assert "Give the campaign a name." in body and "Choose at least one channel." in body
    assert 'value="Festive offers"' in body or "Festive offers" in body  # what was typed is kept
    with tenant_scope(tenant_a):
        assert not Campaign.objects.exists()


def test_channels_switched_off_for_the_tenant_are_not_offered(marketer_client, tenant_a):
    tenant_a.voice_enabled = False
    tenant_a.save()
    page = marketer_client.get(url(tenant_a, "new/")).content.decode()
    assert 'value="voice"' not in page and 'value="sms"' in page
    response = marketer_client.post(url(tenant_a, "new/"), general_data(channels=["voice"]))
    assert response.status_code == 400 and "not one of the available choices" in response.content.decode()


def test_content_errors_are_inline_and_valid_panels_are_still_saved(marketer_client, tenant_a, configs):
    campaign = make_campaign(tenant_a)
    response = marketer_client.post(step_url(campaign, "content"), content_data(
        **{"email-subject": "", "sms-text": "Hi {{ first_nme }} Reply STOP"}))
    assert response.status_code == 400
    body = response.content.decode()
    assert "An email needs a subject." in body
    assert "Unknown variable “first_nme”" in body
    assert "Hi {{ first_nme }} Reply STOP" in body  # the typed text is kept

    response = marketer_client.post(step_url(campaign, "content"), content_data(**{"email-subject": ""}))
    assert response.status_code == 400
    with tenant_scope(tenant_a):
        sms = CampaignContent.objects.get(campaign=campaign, channel="sms")
        assert "Reply STOP" in sms.data["text"]  # the valid SMS panel was saved
        assert not CampaignContent.objects.filter(campaign=campaign, channel="email").exists()


def test_sms_counter_counts_segments_and_shows_syntax_errors(marketer_client, tenant_a):
    campaign = make_campaign(tenant_a)
    counter = url(tenant_a, f"{campaign.pk}/wizard/sms-counter/")
    body = marketer_client.get(counter, {"sms-text": "x" * 161}, HTTP_HX_REQUEST="true").content.decode()
    assert "<strong>161</strong> characters" in body and "<strong>2</strong> SMS segments" in body
    body = marketer_client.get(counter, {"sms-text": "Hello 😀"}, HTTP_HX_REQUEST="true").content.decode()
    assert "UCS-2" in body and "<strong>1</strong> SMS segment" in body
    body = marketer_client.get(counter, {"sms-text": "Hi {{ first_name"}).content.decode()
    assert "Unclosed or stray" in body


def test_whatsapp_only_approved_templates_can_be_chosen_and_launch_is_refused_otherwise(
        marketer_client, tenant_a, contacts):
    with tenant_scope(tenant_a):
        sandbox(tenant_a, "whatsapp")
        approved = MessageTemplate.objects.create(tenant=tenant_a, name="diwali_offer", body="Hi {{1}}, {{2}} off",
                                                  status=TemplateStatus.APPROVED)
        pending = MessageTemplate.objects.create(tenant=tenant_a, name="pending_offer", body="Hi {{1}}",
                                                 status=TemplateStatus.SUBMITTED)
    campaign = make_campaign(tenant_a, channels=["whatsapp"], audience_everyone=True)
    page = marketer_client.get(step_url(campaign, "content")).content.decode()
    assert "diwali_offer" in page and "pending_offer" not in page

    base = {"whatsapp-mode": "template", "whatsapp-variables": "{{ first_name }}", "whatsapp-session_text": "",
            "whatsapp-channel_config": "", "whatsapp-media": "", "nav": "next"}
    response = marketer_client.post(step_url(campaign, "content"), {**base, "whatsapp-template": str(pending.pk)})
    assert response.status_code == 400 and "Choose an approved template." in response.content.decode()

    response = marketer_client.post(step_url(campaign, "content"), {**base, "whatsapp-template": str(approved.pk)})
    assert response.status_code == 400 and "has 2 variable(s); you gave 1" in response.content.decode()

    response = marketer_client.post(step_url(campaign, "content"), {
        **base, "whatsapp-template": str(approved.pk), "whatsapp-variables": "{{ first_name }}\n20%"})
    assert response.status_code == 302

    # The template loses its approval after it was chosen: review warns and launch is refused.
    with tenant_scope(tenant_a):
        MessageTemplate.objects.filter(pk=approved.pk).update(status=TemplateStatus.REJECTED, rejection_reason="x")
    review = marketer_client.get(step_url(campaign, "review")).content.decode()
    assert "The WhatsApp template is rejected" in review
    response = marketer_client.post(url(tenant_a, f"{campaign.pk}/wizard/launch/"))
    assert response.status_code == 400
    assert "The WhatsApp template is not approved." in response.content.decode()
    with tenant_scope(tenant_a):
        assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DRAFT


def test_audience_step_requires_a_choice_and_saves_segments_lists_and_tags(marketer_client, tenant_a, contacts):
    campaign = make_campaign(tenant_a)
    with tenant_scope(tenant_a):
        segment = Segment.objects.create(tenant=tenant_a, name="Mumbai", rules={})
        contact_list = ContactList.objects.create(tenant=tenant_a, name="VIP")
        contact_list.contacts.add(contacts[0])
        tag = Tag.objects.create(tenant=tenant_a, name="buyer")
    response = marketer_client.post(step_url(campaign, "audience"), {"target": "choose", "nav": "next"})
    assert response.status_code == 400
    assert "Choose who receives the campaign" in response.content.decode()

    response = marketer_client.post(step_url(campaign, "audience"), {
        "target": "choose", "segments": [str(segment.pk)], "lists": [str(contact_list.pk)], "tags": [str(tag.pk)],
        "nav": "next"})
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        assert list(campaign.lists.all()) == [contact_list]
        assert list(campaign.segments.all()) == [segment] and list(campaign.tags.all()) == [tag]
    page = marketer_client.get(step_url(campaign, "audience")).content.decode()
    assert f'value="{contact_list.pk}" checked' in page or f'checked value="{contact_list.pk}"' in page or \
        ('checked' in page and str(contact_list.pk) in page)


def test_live_audience_counts_per_channel(marketer_client, tenant_a, contacts):
    campaign = make_campaign(tenant_a)
    with tenant_scope(tenant_a):
        Contact.objects.filter(pk=contacts[0].pk).update(consent_sms=ConsentState.OPTED_OUT)
        contact_list = ContactList.objects.create(tenant=tenant_a, name="VIP")
        contact_list.contacts.add(contacts[0], contacts[1])
    counts = url(tenant_a, f"{campaign.pk}/wizard/audience-counts/")
    body = marketer_client.get(counts, {"target": "everyone"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<strong>3</strong> contacts" in body
    assert body.count('<td class="num">3</td>') == 1 and '<td class="num">2</td>' in body  # email 3, SMS 2
    body = marketer_client.get(counts, {"target": "choose", "lists": [str(contact_list.pk), "not-a-uuid"]}).content
    assert b"<strong>2</strong> contacts" in body


def test_csv_upload_becomes_a_list_and_bad_rows_are_counted(marketer_client, tenant_a, contacts):
    campaign = make_campaign(tenant_a)
    csv_bytes = (b"email,phone,first_name\n"
                 b"c0@example.com,,Existing\n"
                 b"new@example.com,+919800012345,Newbie\n"
                 b"not-an-email,12,Broken\n"
                 b",,Empty\n")
    upload = SimpleUploadedFile("leads.csv", csv_bytes, content_type="text/csv")
    response = marketer_client.post(step_url(campaign, "audience"), {
        "target": "choose", "csv_file": upload, "csv_list_name": "Leads", "nav": "next"}, follow=True)
    body = response.content.decode()
    assert "List “Leads” created with 2 contacts (1 new). 2 rows rejected" in body
    with tenant_scope(tenant_a):
        leads = ContactList.objects.get(name="Leads")
        assert set(leads.contacts.values_list("email", flat=True)) == {"c0@example.com", "new@example.com"}
        assert list(campaign.lists.all()) == [leads]
        new = Contact.objects.get(email="new@example.com")
        assert new.phone == "+919800012345" and new.consent_sms == ConsentState.UNKNOWN


def test_csv_without_usable_rows_is_refused_with_the_reason(marketer_client, tenant_a):
    campaign = make_campaign(tenant_a)
    upload = SimpleUploadedFile("x.csv", b"name,city\nA,B\n", content_type="text/csv")
    response = marketer_client.post(step_url(campaign, "audience"), {
        "target": "choose", "csv_file": upload, "csv_list_name": "Nope", "nav": "next"})
    assert response.status_code == 400
    assert "must name an “email” or a “phone” column" in response.content.decode()
    with tenant_scope(tenant_a):
        assert not ContactList.objects.filter(name="Nope").exists()


def test_a_file_that_is_not_a_csv_is_refused(marketer_client, tenant_a):
    campaign = make_campaign(tenant_a)
    upload = SimpleUploadedFile("leads.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20, content_type="text/csv")
    response = marketer_client.post(step_url(campaign, "audience"), {
        "target": "choose", "csv_file": upload, "csv_list_name": "Pic", "nav": "next"})
    assert response.status_code == 400
    assert "No contacts could be read" in response.content.decode()
    with tenant_scope(tenant_a):
        assert not ContactList.objects.filter(name="Pic").exists() and not campaign.lists.exists()


def test_budget_and_schedule_validation(marketer_client, tenant_a):
    campaign = make_campaign(tenant_a)
    response = marketer_client.post(step_url(campaign, "budget"), budget_data(
        budget_total="50", alloc_email="40", alloc_sms="60", currency="12$"))
    body = response.content.decode()
    assert response.status_code == 400
    assert "add up to 100.00, more than the total budget of 50.00" in body
    assert "three-letter ISO code" in body

    response = marketer_client.post(step_url(campaign, "budget"), budget_data(send_mode="scheduled"))
    assert "Choose the day to send." in response.content.decode()
    response = marketer_client.post(step_url(campaign, "budget"), budget_data(
        send_mode="scheduled", scheduled_date="2020-01-01", scheduled_time="09:00"))
    assert "That time has already passed" in response.content.decode()
    response = marketer_client.post(step_url(campaign, "budget"), budget_data(recurrence="daily"))
    assert "A repeating campaign needs a first date and time" in response.content.decode()
    response = marketer_client.post(step_url(campaign, "budget"), budget_data(
        send_mode="scheduled", scheduled_date="2099-01-01", scheduled_time="09:00", recurrence="custom",
        recurrence_rule="FREQ=SOMETIMES"))
    assert "Not a valid RRULE" in response.content.decode()
    with tenant_scope(tenant_a):
        assert not ChannelBudget.objects.exists()


def test_schedule_is_read_in_the_chosen_zone_and_stored_in_utc(marketer_client, tenant_a):
    campaign = make_campaign(tenant_a)
    response = marketer_client.post(step_url(campaign, "budget"), budget_data(
        send_mode="scheduled", scheduled_date="2099-03-10", scheduled_time="09:30",
        schedule_timezone="America/New_York", recurrence="custom", recurrence_rule="RRULE:FREQ=WEEKLY;BYDAY=MO",
        recurrence_end="2099-06-01"))
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        campaign.refresh_from_db()
    assert campaign.scheduled_at == dt.datetime(2099, 3, 10, 13, 30, tzinfo=dt.UTC)  # EDT is UTC-4
    assert campaign.send_mode == SendMode.SCHEDULED and campaign.recurrence == Recurrence.CUSTOM
    assert campaign.recurrence_rule == "FREQ=WEEKLY;BYDAY=MO"
    page = marketer_client.get(step_url(campaign, "budget")).content.decode()
    assert 'value="09:30"' in page and 'value="2099-03-10"' in page  # shown back in the chosen zone


def test_optimal_time_needs_a_window(marketer_client, tenant_a):
    campaign = make_campaign(tenant_a)
    response = marketer_client.post(step_url(campaign, "budget"), budget_data(send_mode="optimal",
                                                                           optimal_window_hours="200"))
    assert response.status_code == 400 and "less than or equal to 168" in response.content.decode()
    response = marketer_client.post(step_url(campaign, "budget"), budget_data(send_mode="optimal",
                                                                           optimal_window_hours="6"))
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        campaign.refresh_from_db()
    assert campaign.send_mode == SendMode.OPTIMAL and campaign.optimal_window_hours == 6
    review = marketer_client.get(step_url(campaign, "review")).content.decode()
    assert "at their best local hour, within 6 hours" in review


def test_advanced_step_validation(marketer_client, tenant_a):
    campaign = make_campaign(tenant_a, channels=["whatsapp"])
    response = marketer_client.post(step_url(campaign, "advanced"), advanced_data(
        calling_hours_start="09:00", whatsapp_list_size="300", calling_hours_mode="fixed", throttle_per_minute="0"))
    body = response.content.decode()
    assert response.status_code == 400
    assert "Set both the start and the end of calling hours" in body
    assert "WhatsApp allows at most 256 recipients" in body
    assert "Choose the time zone calling hours apply in." in body
    assert "greater than or equal to 1" in body
    response = marketer_client.post(step_url(campaign, "advanced"), advanced_data(
        calling_hours_start="09:00", calling_hours_end="18:00", calling_hours_mode="fixed",
        calling_hours_timezone="Europe/London", track_reads=""))
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        campaign.refresh_from_db()
    assert campaign.calling_hours_start == dt.time(9) and campaign.calling_hours_timezone == "Europe/London"
    assert campaign.track_reads is False and campaign.track_links is True


def test_back_and_forth_keeps_every_step(marketer_client, tenant_a, configs):
    marketer_client.post(url(tenant_a, "new/"), general_data())
    with tenant_scope(tenant_a):
        campaign = Campaign.objects.get()
    marketer_client.post(step_url(campaign, "content"), content_data(nav="back"))
    page = marketer_client.get(step_url(campaign, "general")).content.decode()
    assert 'value="Diwali sale"' in page and "Festive offers" in page
    # Back from General's neighbour lands on General; the content typed before is still there.
    page = marketer_client.get(step_url(campaign, "content")).content.decode()
    assert "Reply STOP to opt out" in page and "Hi {{ first_name }}" in page
    response = marketer_client.post(step_url(campaign, "budget"), budget_data(nav="back"))
    assert response["Location"].endswith("/edit/audience/")
    response = marketer_client.post(step_url(campaign, "advanced"), advanced_data(nav="content"))
    assert response["Location"].endswith("/edit/content/")
    page = marketer_client.get(step_url(campaign, "budget")).content.decode()
    assert 'value="100.00"' in page and 'value="60.00"' in page
    # Removing a channel drops its content and budget; the others stay.
    marketer_client.post(step_url(campaign, "general"), general_data(channels=["email"]))
    with tenant_scope(tenant_a):
        assert list(campaign.contents.values_list("channel", flat=True)) == ["email"]
        assert list(campaign.budgets.values_list("channel", flat=True)) == ["email"]


def test_step_navigation_shows_completion(marketer_client, tenant_a, configs):
    campaign = make_campaign(tenant_a)
    page = marketer_client.get(step_url(campaign, "content")).content.decode()
    assert page.count("(complete)") == 3  # general, budget (send now), advanced
    marketer_client.post(step_url(campaign, "content"), content_data())
    page = marketer_client.get(step_url(campaign, "content")).content.decode()
    assert page.count("(complete)") == 4


def test_a_campaign_that_is_not_editable_is_refused(marketer_client, tenant_a):
    campaign = make_campaign(tenant_a, status=CampaignStatus.ACTIVE)
    for step in ("general", "content", "review"):
        response = marketer_client.get(step_url(campaign, step), follow=True)
        assert "can no longer be edited" in response.content.decode()
    response = marketer_client.post(step_url(campaign, "general"), general_data(name="Changed"))
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        assert Campaign.objects.get(pk=campaign.pk).name == "Diwali sale"


def test_launch_refused_lists_every_problem(marketer_client, tenant_a):
    campaign = make_campaign(tenant_a, send_mode=SendMode.SCHEDULED)
    response = marketer_client.post(url(tenant_a, f"{campaign.pk}/wizard/launch/"))
    assert response.status_code == 400
    body = response.content.decode()
    for problem in ("Email content is incomplete", "SMS has no enabled channel configuration",
                    "Choose an audience", "Choose a date and time to send."):
        assert problem in body
    with tenant_scope(tenant_a):
        assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DRAFT


def test_scheduling_from_the_review(marketer_client, tenant_a, configs, contacts):
    campaign = make_campaign(tenant_a, audience_everyone=True, send_mode=SendMode.SCHEDULED,
                             scheduled_at=timezone.now() + dt.timedelta(days=2))
    marketer_client.post(step_url(campaign, "content"), content_data())
    response = marketer_client.post(url(tenant_a, f"{campaign.pk}/wizard/launch/"), follow=True)
    assert "is scheduled for" in response.content.decode()
    with tenant_scope(tenant_a):
        campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED and campaign.next_run_at == campaign.scheduled_at


def test_editing_a_scheduled_campaign_moves_its_start_or_unschedules_it(marketer_client, tenant_a):
    first = timezone.now() + dt.timedelta(days=2)
    campaign = make_campaign(tenant_a, status=CampaignStatus.SCHEDULED, send_mode=SendMode.SCHEDULED,
                             scheduled_at=first, next_run_at=first)
    response = marketer_client.post(step_url(campaign, "budget"), budget_data(
        send_mode="scheduled", scheduled_date="2099-01-01", scheduled_time="10:00", schedule_timezone="UTC"))
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    assert campaign.next_run_at == dt.datetime(2099, 1, 1, 10, tzinfo=dt.UTC) == campaign.scheduled_at
    review = marketer_client.get(step_url(campaign, "review")).content.decode()
    assert "your changes are saved and apply when it starts" in review and ">Schedule</button>" not in review

    marketer_client.post(step_url(campaign, "budget"), budget_data(send_mode="now"))
    with tenant_scope(tenant_a):
        campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT and campaign.next_run_at is None


def test_send_test_to_an_address_and_refusals(marketer_client, tenant_a, configs, contacts):
    campaign = make_campaign(tenant_a, audience_everyone=True)
    marketer_client.post(step_url(campaign, "content"), content_data())
    send = url(tenant_a, f"{campaign.pk}/wizard/send-test/")
    body = marketer_client.post(send, {"channel": "email", "address": "me@example.com"},
                                HTTP_HX_REQUEST="true").content.decode()
    assert "Test Email message to me@example.com" in body
    from channels.models import OutboxMessage
    with tenant_scope(tenant_a):
        sent = OutboxMessage.objects.get(to="me@example.com")
        assert sent.subject == "Hi "  # no contact: the variable renders empty
    with tenant_scope(tenant_a):
        Contact.objects.filter(pk=contacts[1].pk).update(consent_sms=ConsentState.OPTED_OUT)
    body = marketer_client.post(send, {"channel": "sms", "contact_email": "c1@example.com"},
                                HTTP_HX_REQUEST="true").content.decode()
    assert "cannot receive sms messages: opted out" in body
    body = marketer_client.post(send, {"channel": "sms"}).content.decode()
    assert "Choose a contact or type a test address." in body
    body = marketer_client.post(send, {"channel": "sms", "contact_email": "nobody@example.com"}).content.decode()
    assert "No contact with that email or phone" in body


def test_save_draft_returns_to_the_grid(marketer_client, tenant_a):
    campaign = make_campaign(tenant_a)
    response = marketer_client.post(url(tenant_a, f"{campaign.pk}/wizard/save/"))
    assert response.status_code == 302 and response["Location"] == url(tenant_a, "")


WIZARD_PATHS = [
    ("get", "edit/general/"), ("get", "edit/content/"), ("get", "edit/audience/"), ("get", "edit/budget/"),
    ("get", "edit/advanced/"), ("get", "edit/review/"), ("post", "edit/general/"),
    ("get", "wizard/audience-counts/"), ("get", "wizard/sms-counter/"), ("post", "wizard/ai/sms/"),
    ("post", "wizard/send-test/"), ("post", "wizard/launch/"), ("post", "wizard/save/"),
]


@pytest.mark.parametrize(("method", "path"), WIZARD_PATHS)
def test_another_tenants_campaign_is_404_on_every_wizard_url(outsider_client, owner_client, tenant_a, tenant_b,
                                                            method, path):
    campaign = make_campaign(tenant_a)
    # The outsider, in their own workspace, asking for tenant A's campaign id.
    response = getattr(outsider_client, method)(f"/t/{tenant_b.slug}/campaigns/{campaign.pk}/{path}")
    assert response.status_code == 404
    # ... and not a member of tenant A at all.
    response = getattr(outsider_client, method)(f"/t/{tenant_a.slug}/campaigns/{campaign.pk}/{path}")
    assert response.status_code == 404


def test_analyst_cannot_post_or_open_the_wizard(analyst_client, tenant_a):
    campaign = make_campaign(tenant_a)
    assert analyst_client.post(url(tenant_a, "new/"), general_data()).status_code == 403
    assert analyst_client.post(step_url(campaign, "general"), general_data(name="X")).status_code == 403
    assert analyst_client.post(url(tenant_a, f"{campaign.pk}/wizard/launch/")).status_code == 403
    assert analyst_client.get(step_url(campaign, "content")).status_code == 403
    with tenant_scope(tenant_a):
        assert Campaign.objects.get().name == "Diwali sale" and Campaign.objects.count() == 1


def test_campaigns_flag_off_explains_itself(marketer_client, tenant_a):
    tenant_a.campaigns_enabled = False
    tenant_a.save()
    response = marketer_client.get(url(tenant_a, "new/"))
    assert response.status_code == 200 and b"Campaign name" not in response.content


def test_media_upload_in_a_content_panel(marketer_client, tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    campaign = make_campaign(tenant_a, channels=["telegram"])
    base = {"telegram-text": "Sale!", "telegram-parse_mode": "HTML", "telegram-buttons": "Shop | https://x.test",
            "telegram-channel_config": "", "telegram-media": "", "nav": "stay"}
    fake = SimpleUploadedFile("banner.jpg", b"MZ\x90\x00 not really a jpeg", content_type="image/jpeg")
    response = marketer_client.post(step_url(campaign, "content"), {**base, "telegram-media_upload": fake})
    assert response.status_code == 400 and "is not a file type we can send" in response.content.decode()
    png = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    png.name = "banner.png"
    response = marketer_client.post(step_url(campaign, "content"), {**base, "telegram-media_upload": png})
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        data = CampaignContent.objects.get(campaign=campaign).data
        media = campaign.media.get()
    assert data["media_id"] == str(media.pk) and media.kind == "image" and media.content_type == "image/png"
    assert data["buttons"] == [{"text": "Shop", "url": "https://x.test"}]
    page = marketer_client.get(step_url(campaign, "content")).content.decode()
    assert "banner.png (Image)" in page


def test_voice_and_social_panels_validate_and_save(marketer_client, tenant_a):
    from social_accounts.models import SocialAccount, Status

    with tenant_scope(tenant_a):
        page_account = SocialAccount.objects.create(tenant=tenant_a, platform="facebook", handle="Acme",
                                                    status=Status.CONNECTED)
        SocialAccount.objects.create(tenant=tenant_a, platform="x", handle="@acme", status=Status.EXPIRED)
    campaign = make_campaign(tenant_a, channels=["voice", "social"])
    page = marketer_client.get(step_url(campaign, "content")).content.decode()
    assert 'name="voice-max_concurrent" value="1"' in page and 'name="voice-retry_delay" value="60"' in page
    assert "@acme — Expired" in page
    voice = {"voice-caller_id": "", "voice-queue": "sales", "voice-max_concurrent": "0", "voice-max_retries": "11",
             "voice-retry_delay": "60", "voice-script": "", "voice-amd_action": "voicemail",
             "voice-voicemail_text": "", "voice-channel_config": ""}
    social = {"social-text": "Diwali sale", "social-media": "", "social-channel_config": ""}
    body = marketer_client.post(step_url(campaign, "content"), {**voice, **social}).content.decode()
    assert "Between 1 and 100 simultaneous calls." in body and "Between 0 and 10 retries." in body
    assert "Write a script" in body and "Choose at least one connected account to post to." in body

    voice.update({"voice-max_concurrent": "3", "voice-max_retries": "1", "voice-script": "Hello {{ first_name }}",
                  "voice-amd_enabled": "on"})
    response = marketer_client.post(step_url(campaign, "content"),
                                    {**voice, **social, "social-accounts": [str(page_account.pk)]})
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        data = {c.channel: c.data for c in campaign.contents.all()}
    assert data["voice"]["max_concurrent"] == 3 and data["voice"]["amd_enabled"] is True
    assert data["voice"]["amd_action"] == "voicemail"
    assert data["social"]["accounts"] == [str(page_account.pk)] and data["social"]["text"] == "Diwali sale"
    review = marketer_client.get(step_url(campaign, "review")).content.decode()
    assert "@acme is expired" not in review  # not one of the accounts this campaign posts to


def test_another_tenants_config_template_and_media_cannot_be_chosen(marketer_client, tenant_a, tenant_b, settings,
                                                                    tmp_path):
    from campaigns.media import media_store

    settings.MEDIA_ROOT = tmp_path
    with tenant_scope(tenant_b):
        foreign_config = sandbox(tenant_b, "whatsapp")
        foreign_template = MessageTemplate.objects.create(tenant=tenant_b, name="theirs", body="Hi",
                                                          status=TemplateStatus.APPROVED)
        their_campaign = Campaign.objects.create(tenant=tenant_b, name="Theirs", channels=["whatsapp"])
        foreign_media = media_store(campaign=their_campaign, upload=SimpleUploadedFile("x.png", b"\x89PNG\r\n\x1a\n0"))
    campaign = make_campaign(tenant_a, channels=["whatsapp"])
    response = marketer_client.post(step_url(campaign, "content"), {
        "whatsapp-mode": "template", "whatsapp-template": str(foreign_template.pk), "whatsapp-variables": "",
        "whatsapp-channel_config": str(foreign_config.pk), "whatsapp-media": str(foreign_media.pk),
        "whatsapp-session_text": "", "nav": "next"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Choose an approved template." in body
    assert body.count("Select a valid choice") == 2  # the config and the attachment
    with tenant_scope(tenant_a):
        assert not CampaignContent.objects.filter(campaign=campaign).exists()
