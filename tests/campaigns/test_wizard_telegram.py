"""The campaign wizard's Telegram targets: all subscribers, subscribers in the audience, ticked groups
and channels, the live reach, what is saved, what the review and launch checks make of it, and what
the fan-out then sends to."""

from __future__ import annotations

import pytest

from audiences.models import ConsentState, Contact, ContactList, TelegramChat
from campaigns import preflight, services
from campaigns.engine.fanout import run_fan_out
from campaigns.models import Campaign, CampaignContent, CampaignRun, CampaignStatus, DeliveryStatus
from campaigns.selectors import campaign_readiness_errors
from tenants.scoping import tenant_scope
from tests.campaigns.test_wizard import make_campaign, sandbox, step_url, url

pytestmark = pytest.mark.django_db
IN = ConsentState.OPTED_IN


@pytest.fixture(autouse=True)
def _cache_clean():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def bot(tenant_a):
    with tenant_scope(tenant_a):
        config = sandbox(tenant_a, "telegram", cost="0")
        chats = {
            "pune": TelegramChat.objects.create(tenant=tenant_a, channel_config=config, chat_id=-1001, title="Pune deals",
                                                type="supergroup", member_count=301),
            "mumbai": TelegramChat.objects.create(tenant=tenant_a, channel_config=config, chat_id=-1002,
                                                  title="Mumbai deals", type="group", member_count=41),
            "news": TelegramChat.objects.create(tenant=tenant_a, channel_config=config, chat_id=-1003,
                                                title="Acme news", type="channel", member_count=1201),
            "gone": TelegramChat.objects.create(tenant=tenant_a, channel_config=config, chat_id=-1004,
                                                title="Old group", type="group", member_count=90,
                                                bot_status=TelegramChat.BotStatus.KICKED),
        }
        subscribers = [Contact.objects.create(tenant=tenant_a, first_name=f"S{n}", telegram_chat_id=str(5550000 + n),
                                              consent_telegram=IN) for n in range(3)]
        Contact.objects.create(tenant=tenant_a, first_name="Out", telegram_chat_id="5550009",
                               consent_telegram=ConsentState.OPTED_OUT)
        Contact.objects.create(tenant=tenant_a, first_name="Mail only", email="m@example.com")
    return {"config": config, "chats": chats, "subscribers": subscribers}


def telegram_campaign(tenant, **kw) -> Campaign:
    campaign = make_campaign(tenant, channels=kw.pop("channels", ["telegram"]), **kw)
    with tenant_scope(tenant):
        CampaignContent.objects.create(tenant=tenant, campaign=campaign, channel="telegram",
                                       data={"text": "Hi {{ first_name | default: \"there\" }}, 30% off"})
    return campaign


def targets_of(campaign) -> dict:
    with tenant_scope(campaign.tenant):
        return CampaignContent.objects.get(campaign=campaign, channel="telegram").data.get("targets")


def test_the_audience_step_lists_groups_channels_and_subscriber_choices_with_the_reach(marketer_client, tenant_a,
                                                                                        bot):
    campaign = telegram_campaign(tenant_a)
    page = marketer_client.get(step_url(campaign, "audience")).content.decode()
    assert 'id="panel-telegram"' in page
    assert "Pune deals" in page and "Mumbai deals" in page and "Acme news" in page
    assert "Old group" not in page  # the bot was removed: nothing to post to
    assert 'name="tg_subscribers" value="all"' in page and "(3 reachable)" in page
    # Saved campaigns without targets keep the first version's meaning: the audience's subscribers.
    assert 'value="audience" checked' in page
    # Inside the wizard the form's own htmx request refreshes the reach; the fieldset makes none.
    assert 'hx-get="/t/' not in page.split('id="panel-telegram"')[1].split("</fieldset>")[0]


def test_ticking_groups_updates_the_total_reach_through_htmx(marketer_client, tenant_a, bot):
    campaign = telegram_campaign(tenant_a)
    counts = url(tenant_a, f"{campaign.pk}/wizard/audience-counts/")
    body = marketer_client.get(counts, {"target": "choose", "tg_subscribers": "all", "tg_chat_ids": ["-1001"]},
                               HTTP_HX_REQUEST="true").content.decode()
    assert 'id="tg-reach"' in body and 'hx-swap-oob="true"' in body
    assert "<strong>303</strong> people can be reached: 3 subscribers and 300 members of 1 group" in body
    body = marketer_client.get(counts, {"target": "choose", "tg_subscribers": "all",
                                        "tg_chat_ids": ["-1001", "-1002", "-1003"]},
                               HTTP_HX_REQUEST="true").content.decode()
    # 300 + 40 + 1,200 members (the bot is not counted) + 3 subscribers
    assert "<strong>1,543</strong> people can be reached" in body and "of 3 groups or channels" in body
    body = marketer_client.get(counts, {"target": "choose", "tg_subscribers": "audience", "tg_chat_ids": ["-1003"]},
                               HTTP_HX_REQUEST="true").content.decode()
    assert "<strong>1,200</strong> people can be reached: 0 subscribers" in body  # no audience chosen
    body = marketer_client.get(counts, {"target": "everyone", "tg_subscribers": "audience", "tg_chat_ids": ["-1003"]},
                               HTTP_HX_REQUEST="true").content.decode()
    assert "<strong>1,203</strong> people can be reached" in body


def test_a_groups_only_campaign_needs_no_contact_audience_and_is_ready(marketer_client, tenant_a, bot):
    campaign = telegram_campaign(tenant_a)
    response = marketer_client.post(step_url(campaign, "audience"), {
        "target": "choose", "tg_subscribers": "none", "tg_chat_ids": ["-1001", "-1003"], "nav": "next"})
    assert response.status_code == 302 and response["Location"].endswith("/edit/budget/")
    assert targets_of(campaign) == {"subscribers": "none", "chat_ids": [-1001, -1003]}
    with tenant_scope(tenant_a):
        campaign.refresh_from_db()
        assert campaign_readiness_errors(campaign) == []
        pf = preflight.campaign_preflight(campaign)
        [telegram] = pf.recipients
        assert (telegram.recipients, telegram.chats, telegram.chat_members) == (2, 2, 1500)
        assert telegram.audience == 0
    review = marketer_client.get(step_url(campaign, "review")).content.decode()
    assert "no direct messages + 2 groups/channels (~1,500 members)" in review
    assert "Choose an audience" not in review


def test_a_channel_only_campaign_launches_without_an_audience_and_posts_once(tenant_a, bot):
    campaign = telegram_campaign(tenant_a)
    with tenant_scope(tenant_a):
        content = CampaignContent.objects.get(campaign=campaign)
        content.data["targets"] = {"subscribers": "none", "chat_ids": [-1003]}
        content.save()
        services.campaign_launch(campaign=campaign)
        run = CampaignRun.objects.get(campaign=campaign)
        run_fan_out(run_id=run.pk)
        assert list(run.deliveries.values_list("address", "status")) == [("-1003", DeliveryStatus.PENDING)]


def test_all_subscribers_go_out_whatever_the_audience(tenant_a, bot):
    campaign = telegram_campaign(tenant_a)
    with tenant_scope(tenant_a):
        only_mail = ContactList.objects.create(tenant=tenant_a, name="Mail only")
        only_mail.contacts.add(Contact.objects.get(first_name="Mail only"))
        campaign.lists.add(only_mail)  # an audience with no subscriber in it
        content = CampaignContent.objects.get(campaign=campaign)
        content.data["targets"] = {"subscribers": "all", "chat_ids": []}
        content.save()
        [telegram] = preflight.recipients_by_channel(campaign)
        assert (telegram.recipients, telegram.opted_out, telegram.audience) == (3, 1, 4)
        services.campaign_launch(campaign=campaign)
        run = CampaignRun.objects.get(campaign=campaign)
        run_fan_out(run_id=run.pk)
        rows = dict(run.deliveries.values_list("address", "status"))
    assert rows == {"5550000": "pending", "5550001": "pending", "5550002": "pending", "5550009": "skipped"}


def test_subscribers_in_the_audience_still_require_an_audience(marketer_client, tenant_a, bot):
    campaign = telegram_campaign(tenant_a)
    response = marketer_client.post(step_url(campaign, "audience"), {
        "target": "choose", "tg_subscribers": "audience", "nav": "next"})
    assert response.status_code == 400
    assert "Choose who receives the campaign" in response.content.decode()


def test_a_telegram_campaign_with_no_target_at_all_is_refused(marketer_client, tenant_a, bot):
    campaign = telegram_campaign(tenant_a)
    response = marketer_client.post(step_url(campaign, "audience"), {
        "target": "everyone", "tg_subscribers": "none", "nav": "next"})
    assert response.status_code == 400
    assert "Choose who receives the Telegram message: subscribers, a group or a channel." in response.content.decode()
    with tenant_scope(tenant_a):
        content = CampaignContent.objects.get(campaign=campaign)
        content.data["targets"] = {"subscribers": "none", "chat_ids": []}
        content.save()
        campaign.audience_everyone = True
        campaign.save()
        problems = campaign_readiness_errors(campaign)
    assert "Choose who receives the Telegram message: subscribers, a group or a channel." in problems


def test_a_mixed_campaign_still_needs_an_audience_for_its_other_channels(marketer_client, tenant_a, bot):
    campaign = telegram_campaign(tenant_a, channels=["email", "telegram"])
    response = marketer_client.post(step_url(campaign, "audience"), {
        "target": "choose", "tg_subscribers": "none", "tg_chat_ids": ["-1001"], "nav": "next"})
    assert response.status_code == 400
    assert "Choose who receives the campaign" in response.content.decode()


def test_a_group_of_another_tenant_or_one_the_bot_left_cannot_be_ticked(marketer_client, tenant_a, tenant_b, bot):
    with tenant_scope(tenant_b):
        other = sandbox(tenant_b, "telegram")
        TelegramChat.objects.create(tenant=tenant_b, channel_config=other, chat_id=-2001, title="Globex", type="group")
    campaign = telegram_campaign(tenant_a)
    for foreign in ("-2001", "-1004", "junk"):
        response = marketer_client.post(step_url(campaign, "audience"), {
            "target": "choose", "tg_subscribers": "all", "tg_chat_ids": [foreign], "nav": "next"})
        assert response.status_code == 400, foreign
        assert "not one the bot is in any more" in response.content.decode()
    assert targets_of(campaign) is None


def test_saving_the_content_keeps_the_targets_chosen_on_the_audience_step(marketer_client, tenant_a, bot):
    campaign = telegram_campaign(tenant_a)
    marketer_client.post(step_url(campaign, "audience"), {
        "target": "choose", "tg_subscribers": "all", "tg_chat_ids": ["-1002"], "nav": "next"})
    response = marketer_client.post(step_url(campaign, "content"), {
        "telegram-text": "New text", "telegram-parse_mode": "HTML", "telegram-buttons": "",
        "telegram-channel_config": "", "telegram-media": "", "nav": "next"})
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        data = CampaignContent.objects.get(campaign=campaign).data
    assert data["text"] == "New text" and data["targets"] == {"subscribers": "all", "chat_ids": [-1002]}
    page = marketer_client.get(step_url(campaign, "audience")).content.decode()
    assert 'value="all" checked' in page and 'value="-1002" checked' in page


def test_the_wizard_sends_a_groups_only_campaign_end_to_end(marketer_client, tenant_a, bot,
                                                            django_capture_on_commit_callbacks):
    campaign = telegram_campaign(tenant_a)
    marketer_client.post(step_url(campaign, "audience"), {
        "target": "choose", "tg_subscribers": "none", "tg_chat_ids": ["-1002"], "nav": "next"})
    with django_capture_on_commit_callbacks(execute=False):
        response = marketer_client.post(url(tenant_a, f"{campaign.pk}/wizard/launch/"))
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        campaign.refresh_from_db()
        assert campaign.status == CampaignStatus.ACTIVE
        run = campaign.runs.get()
        run_fan_out(run_id=run.pk)
        assert list(run.deliveries.values_list("address", flat=True)) == ["-1002"]


def test_the_grid_says_where_a_telegram_campaign_goes(marketer_client, tenant_a, bot):
    campaign = telegram_campaign(tenant_a)
    marketer_client.post(step_url(campaign, "audience"), {
        "target": "choose", "tg_subscribers": "all", "tg_chat_ids": ["-1001", "-1003"], "nav": "next"})
    grid = marketer_client.get(url(tenant_a, "")).content.decode()
    assert "All Telegram subscribers + 2 Telegram groups/channels" in grid


def test_a_campaign_that_ticked_a_group_before_its_supergroup_upgrade_posts_to_the_new_chat(tenant_a, bot):
    from audiences.telegram import telegram_chat_migrate

    campaign = telegram_campaign(tenant_a)
    with tenant_scope(tenant_a):
        content = CampaignContent.objects.get(campaign=campaign)
        content.data["targets"] = {"subscribers": "none", "chat_ids": [-1002]}
        content.save()
        telegram_chat_migrate(config=bot["config"], old_chat_id=-1002, new_chat_id=-100200200)
        services.campaign_launch(campaign=campaign)
        run = CampaignRun.objects.get(campaign=campaign)
        run_fan_out(run_id=run.pk)
        assert list(run.deliveries.values_list("address", flat=True)) == ["-100200200"]


def test_the_review_leaves_telegram_out_of_the_time_zone_table_when_it_ignores_the_audience(tenant_a, bot):
    campaign = telegram_campaign(tenant_a, channels=["email", "telegram"])
    with tenant_scope(tenant_a):
        Contact.objects.filter(first_name="Mail only").update(consent_email=IN)
        campaign.audience_everyone = True
        campaign.save()
        content = CampaignContent.objects.get(campaign=campaign)
        content.data["targets"] = {"subscribers": "all", "chat_ids": [-1001]}
        content.save()
        buckets = preflight.timezone_buckets(campaign)
        assert all(set(b.counts) == {"email"} for b in buckets)
        email, telegram = preflight.recipients_by_channel(campaign)
        assert (email.channel, telegram.channel) == ("email", "telegram")
        assert (telegram.recipients, telegram.chats) == (4, 1)  # 3 subscribers + 1 group


def test_the_review_warns_about_ticked_groups_the_bot_has_left(marketer_client, tenant_a, bot):
    campaign = telegram_campaign(tenant_a)
    marketer_client.post(step_url(campaign, "audience"), {
        "target": "choose", "tg_subscribers": "all", "tg_chat_ids": ["-1001", "-1002"], "nav": "next"})
    with tenant_scope(tenant_a):
        TelegramChat.objects.filter(chat_id=-1002).update(bot_status=TelegramChat.BotStatus.KICKED)
    review = marketer_client.get(step_url(campaign, "review")).content.decode()
    assert "Telegram: the bot is no longer in 1 of the ticked groups or channels; it gets nothing." in review
