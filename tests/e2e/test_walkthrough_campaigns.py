"""Walkthroughs of a campaign's life: the wizard with AI variants, a test send, sending with live
progress, the dashboard and the report; pausing and resuming a throttled campaign; cloning."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from playwright.sync_api import expect

from audiences.models import ConsentState, Contact
from campaigns.models import Campaign, CampaignContent, Delivery
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope
from tests.conftest import PASSWORD
from tests.e2e.conftest import login

OPTED_IN = ConsentState.OPTED_IN


def _config(tenant, channel: str, provider: str, settings: dict, secrets: dict, *, rate: float = 50) -> None:
    config = ChannelConfig(tenant=tenant, name=f"{provider} ({channel})", channel=channel, provider=provider,
                           settings=settings, rate_per_second=rate, unit_cost=Decimal("0.25"), is_default=True)
    config.set_secrets(secrets)
    config.save()


def _email_config(tenant) -> None:
    _config(tenant, "email", "sendgrid", {"from_email": "offers@acme.example", "from_name": "Acme"},
            {"api_key": "SG.e2e-key"})


def _channels(tenant) -> None:
    """SendGrid, Twilio and Telegram configurations pointing at the fake providers."""
    _email_config(tenant)
    _config(tenant, "sms", "twilio_sms", {"account_sid": "AC" + "0" * 32, "from_number": "+15005550006"},
            {"auth_token": "e2e-twilio-token"})
    _config(tenant, "telegram", "telegram", {}, {"bot_token": "123456:ABC-e2e-bot"})


def _contacts(tenant, n: int, *, prefix: str = "guest") -> None:
    Contact.objects.bulk_create([
        Contact(tenant=tenant, first_name=f"{prefix.title()}{i}", email=f"{prefix}{i}@example.com",
                phone=f"+9198{i:08d}", telegram_chat_id=str(700000 + i), city="Pune",
                consent_email=OPTED_IN, consent_sms=OPTED_IN, consent_telegram=OPTED_IN)
        for i in range(n)])


def _stat(page, test_id: str):
    return page.get_by_test_id(test_id)


def test_a_three_channel_campaign_goes_from_the_wizard_to_the_report(page, tenant_a, marketer, fake):
    with tenant_scope(tenant_a):
        _channels(tenant_a)
        _contacts(tenant_a, 12)
    slug = tenant_a.slug
    login(page, marketer.username, PASSWORD)

    # General: name, description (the AI writes from it) and three channels.
    page.goto(f"/t/{slug}/campaigns/")
    page.get_by_role("link", name="New campaign").first.click()
    page.get_by_label("Campaign name").fill("Diwali AC service")
    page.get_by_label("Description").fill("Festive discount on air-conditioner servicing in Pune")
    for channel in ("Email", "SMS", "Telegram"):
        page.get_by_role("checkbox", name=channel).check()
    page.get_by_role("button", name="Save and continue →").click()

    # Content: email and Telegram typed, SMS picked from the AI's variants.
    expect(page.get_by_role("heading", name="Diwali AC service")).to_be_visible()
    email = page.get_by_test_id("content-email")
    email.get_by_label("Subject").fill("{{ first_name }}, your AC deserves a Diwali tune-up")
    email.get_by_label("HTML body").fill("<p>Hi {{ first_name }}, book a service this week and save 20%.</p>")
    sms = page.get_by_test_id("content-sms")
    sms.get_by_role("button", name="Generate variants").click()
    variants = sms.get_by_role("button", name="Use this")
    expect(variants).to_have_count(3)
    variants.nth(1).click()
    expect(sms.get_by_role("button", name="Filled ✓")).to_be_visible()
    sms_text = sms.get_by_role("textbox", name="Message").input_value()
    assert "Festive discount on air-conditioner servicing in Pune" in sms_text
    assert sms_text.startswith("Last chance: ")  # the fake's second tone
    prompts = fake.received("openai", kind="chat")
    assert len(prompts) == 1 and "Festive discount" in str(prompts[0]["body"]["messages"])
    page.get_by_test_id("content-telegram").get_by_role("textbox", name="Message").fill(
        "<b>Diwali offer</b> for {{ first_name }}: 20% off AC servicing.")
    page.get_by_role("button", name="Save and continue →").click()

    # Audience: everyone, with the reach per channel.
    page.get_by_role("radio", name="All contacts").check()
    expect(page.locator("#audience-counts")).to_contain_text("12 contacts in this audience")
    page.get_by_role("button", name="Save and continue →").click()

    # Budget & schedule: send now.
    expect(page.get_by_role("radio", name="Send now")).to_be_checked()
    page.get_by_role("button", name="Save and continue →").click()

    # Advanced: SMS keeps to calling hours; open them around the current time so that the
    # walkthrough sends whenever it runs.
    now = dt.datetime.now(dt.UTC)
    page.get_by_label("Calling hours start").fill(f"{(now - dt.timedelta(hours=1)):%H:%M}")
    page.get_by_label("Calling hours end").fill(f"{(now + dt.timedelta(hours=2)):%H:%M}")
    page.get_by_role("radio", name="A fixed time zone").check()
    page.get_by_label("Fixed time zone", exact=True).select_option("UTC")
    page.get_by_role("button", name="Save and continue →").click()

    # Review: 36 messages; a test SMS to the marketer's own phone first.
    expect(page.locator(".stat").filter(has_text="Messages to send")).to_contain_text("36")
    page.get_by_role("combobox", name="Channel", exact=True).select_option(label="SMS")
    page.get_by_label("Or a test address").fill("+14155550100")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_text("Test SMS message to +14155550100: sent.")).to_be_visible()
    texts = fake.received("twilio", kind="message")
    assert [t["params"]["To"] for t in texts] == ["+14155550100"]
    assert texts[0]["params"]["Body"] == sms_text
    with tenant_scope(tenant_a):
        campaign = Campaign.objects.get(tenant=tenant_a, name="Diwali AC service")
        test_delivery = Delivery.objects.get(campaign=campaign, address="+14155550100")
        assert test_delivery.is_test and test_delivery.provider_message_id == texts[0]["message_sid"]
    review_url = page.url

    # Before sending: one draft on the dashboard; the report counts no test send.
    page.goto(f"/t/{slug}/")
    expect(_stat(page, "stat-drafts")).to_have_text("1")
    expect(_stat(page, "stat-completed")).to_have_text("0")
    page.goto(f"/t/{slug}/analytics/campaigns/{campaign.pk}/")
    expect(_stat(page, "report-sent")).to_have_text("0")

    # Send it and watch the progress card reach 100 %.
    page.goto(review_url)
    page.once("dialog", lambda dialog: dialog.accept())  # "Send … now to 36 recipients?"
    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_text("“Diwali AC service” is sending now.")).to_be_visible()
    expect(page.get_by_test_id("progress-percent")).to_have_text("100%", timeout=60_000)
    expect(page.get_by_test_id("run-status")).to_have_text("Completed")
    expect(page.get_by_test_id("progress-summary")).to_contain_text("36 of 36 deliveries")
    for label in ("Email", "SMS", "Telegram"):
        row = page.get_by_role("row").filter(has=page.locator(".badge", has_text=re.compile(f"^{label}$")))
        expect(row.get_by_role("cell").nth(2)).to_have_text("12")  # sent

    # Every provider got one message per contact (and the SMS one the test too).
    mails = [p for m in fake.received("sendgrid", kind="mail") for p in m["personalizations"]]
    assert sorted(p["to"][0]["email"] for p in mails) == sorted(f"guest{i}@example.com" for i in range(12))
    assert len(fake.received("twilio", kind="message")) == 13
    telegrams = fake.received("telegram", kind="call", method="sendMessage")
    assert sorted(int(t["params"]["chat_id"]) for t in telegrams) == [700000 + i for i in range(12)]
    assert "Diwali offer</b> for Guest" in telegrams[0]["params"]["text"]

    # The dashboard and the report moved.
    page.goto(f"/t/{slug}/")
    expect(_stat(page, "stat-completed")).to_have_text("1")
    expect(_stat(page, "stat-drafts")).to_have_text("0")
    page.get_by_role("row").filter(has_text="Diwali AC service").get_by_role("link", name="Report").click()
    expect(_stat(page, "report-sent")).to_have_text("36")
    expect(_stat(page, "report-cost")).to_have_text("9.00")  # 36 × 0.25, the test send is free


def test_a_throttled_campaign_is_paused_and_resumed_and_still_reaches_everyone_once(page, tenant_a, marketer, fake):
    with tenant_scope(tenant_a):
        _email_config(tenant_a)
        _contacts(tenant_a, 150, prefix="lead")
        campaign = Campaign.objects.create(tenant=tenant_a, name="Clearance week", channels=["email"],
                                           audience_everyone=True, throttle_per_minute=600)  # 10 a second
        CampaignContent.objects.create(tenant=tenant_a, campaign=campaign, channel="email",
                                       data={"subject": "Clearance week, {{ first_name }}", "html": "<p>Up to 50% off</p>"})
    login(page, marketer.username, PASSWORD)
    page.goto(f"/t/{tenant_a.slug}/campaigns/{campaign.pk}/edit/review/")
    expect(page.get_by_text("600 per minute")).to_be_visible()  # the review shows the throttle
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Send now").click()

    percent = page.get_by_test_id("progress-percent")
    expect(percent).to_have_text(re.compile(r"^[1-9]\d?%$"), timeout=30_000)  # under way, far from done
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_text("“Clearance week” is paused.")).to_be_visible()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Paused")
    expect(page.get_by_test_id("run-status")).to_have_text("Paused")
    paused_at = int(percent.inner_text().rstrip("%"))
    assert 0 < paused_at < 100, paused_at

    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_text("“Clearance week” resumed where it stopped.")).to_be_visible()
    expect(percent).to_have_text("100%", timeout=60_000)
    expect(page.get_by_test_id("run-status")).to_have_text("Completed")
    page.reload()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Completed")

    # Pausing lost nobody and doubled nobody.
    mails = [p["to"][0]["email"] for m in fake.received("sendgrid", kind="mail") for p in m["personalizations"]]
    assert sorted(mails) == sorted(f"lead{i}@example.com" for i in range(150))


def test_a_cloned_campaign_opens_as_a_draft_with_the_same_content(page, tenant_a, marketer):
    with tenant_scope(tenant_a):
        _channels(tenant_a)
        campaign = Campaign.objects.create(tenant=tenant_a, name="Monsoon sale", channels=["email", "sms"],
                                           audience_everyone=True, status="completed",
                                           description="Rainy-day deals")
        CampaignContent.objects.create(tenant=tenant_a, campaign=campaign, channel="email",
                                       data={"subject": "Monsoon deals for {{ first_name }}", "html": "<p>Stay dry</p>"})
        CampaignContent.objects.create(tenant=tenant_a, campaign=campaign, channel="sms",
                                       data={"text": "Monsoon sale: 30% off umbrellas. Reply STOP to opt out"})
    login(page, marketer.username, PASSWORD)
    page.goto(f"/t/{tenant_a.slug}/campaigns/{campaign.pk}/")
    page.get_by_role("button", name="Clone").click()

    # The copy opens in the wizard, as a draft, with the same settings.
    expect(page.get_by_text("Created “Copy of Monsoon sale” as a draft.")).to_be_visible()
    expect(page.get_by_label("Campaign name")).to_have_value("Copy of Monsoon sale")
    expect(page.locator(".page-head .badge-draft")).to_have_text("Draft")
    expect(page.get_by_label("Description")).to_have_value("Rainy-day deals")
    expect(page.get_by_role("checkbox", name="Email")).to_be_checked()
    expect(page.get_by_role("checkbox", name="SMS")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Telegram")).not_to_be_checked()
    page.get_by_role("button", name="Save and continue →").click()
    expect(page.get_by_test_id("content-email").get_by_label("Subject")).to_have_value(
        "Monsoon deals for {{ first_name }}")
    expect(page.get_by_test_id("content-sms").get_by_role("textbox", name="Message")).to_have_value(
        "Monsoon sale: 30% off umbrellas. Reply STOP to opt out")

    # Both are in the grid: the original as it was, the copy as a draft.
    page.goto(f"/t/{tenant_a.slug}/campaigns/")
    def grid_row(name: str):
        return page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))

    expect(grid_row("Copy of Monsoon sale")).to_contain_text("Draft")
    expect(grid_row("Monsoon sale")).to_contain_text("Completed")
    with tenant_scope(tenant_a):
        copy = Campaign.objects.get(tenant=tenant_a, name="Copy of Monsoon sale")
        assert copy.pk != campaign.pk and copy.status == "draft"
        assert {c.channel: c.data for c in copy.contents.all()} == {
            c.channel: c.data for c in campaign.contents.all()}
