"""The AI replies settings page: triggers, instruction, training status gating, the test box,
the grid's bulk "Update training status", roles and tenant isolation."""

from __future__ import annotations

import pytest

from campaigns.models import (
    AiTrainingStatus,
    AutoReply,
    AutoReplySettings,
    Campaign,
    ResponseTrigger,
)
from tenants.scoping import tenant_scope
from tests.campaigns.test_autoreply import add_trigger, make_campaign, set_instruction
from tests.channels.providers.fake_hub import hub_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


def url(tenant, campaign, suffix=""):
    return f"/t/{tenant.slug}/campaigns/{campaign.pk}/ai/{suffix}"


def reload(campaign) -> Campaign:
    with tenant_scope(campaign.tenant):
        return Campaign.objects.get(pk=campaign.pk)


@pytest.fixture
def campaign(tenant_a):
    return make_campaign(tenant_a, trained=False)[0]


# --- training status ------------------------------------------------------------------------------

def test_a_campaign_without_triggers_or_instruction_cannot_be_marked_trained(marketer_client, tenant_a, campaign):
    response = marketer_client.post(url(tenant_a, campaign, "training/"), {"status": "trained"}, follow=True)

    assert reload(campaign).ai_training_status == AiTrainingStatus.NOT_TRAINED
    assert "Add at least one response trigger or a fallback instruction" in response.content.decode()


def test_a_trigger_makes_the_campaign_trainable_and_untraining_is_always_allowed(marketer_client, tenant_a, campaign):
    add_trigger(campaign, keywords=["price"], response="From ₹499.")

    marketer_client.post(url(tenant_a, campaign, "training/"), {"status": "trained"})
    assert reload(campaign).ai_training_status == AiTrainingStatus.TRAINED

    with tenant_scope(tenant_a):
        ResponseTrigger.objects.all().delete()
    marketer_client.post(url(tenant_a, campaign, "training/"), {"status": "not_trained"})
    assert reload(campaign).ai_training_status == AiTrainingStatus.NOT_TRAINED


def test_an_instruction_alone_is_enough_to_train(marketer_client, tenant_a, campaign):
    marketer_client.post(url(tenant_a, campaign), {"instruction": "Answer about the lamp sale only.", "model": ""})
    marketer_client.post(url(tenant_a, campaign, "training/"), {"status": "trained"})

    assert reload(campaign).ai_training_status == AiTrainingStatus.TRAINED
    with tenant_scope(tenant_a):
        assert AutoReplySettings.objects.get(campaign=campaign).instruction == "Answer about the lamp sale only."


def test_an_unknown_training_status_is_refused_with_a_message(marketer_client, tenant_a, campaign):
    response = marketer_client.post(url(tenant_a, campaign, "training/"), {"status": "maybe"}, follow=True)
    assert "Choose Trained or Not trained." in response.content.decode()


# --- triggers ---------------------------------------------------------------------------------------

def test_adding_editing_and_deleting_a_trigger(marketer_client, tenant_a, campaign):
    response = marketer_client.post(url(tenant_a, campaign, "triggers/"), {
        "kind": "keyword", "keywords": "Price, how much, price", "intent": "", "response": "Hi {{ first_name }}!",
        "position": "0"})
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        trigger = ResponseTrigger.objects.get(campaign=campaign)
    assert trigger.keywords == ["price", "how much"]

    edit = url(tenant_a, campaign, f"triggers/{trigger.pk}/")
    assert "Edit trigger" in marketer_client.get(edit).content.decode()
    marketer_client.post(edit, {"kind": "intent", "keywords": "", "intent": "asks where the store is",
                                "response": "MG Road, Pune.", "position": "2"})
    trigger.refresh_from_db()
    assert (trigger.kind, trigger.intent, trigger.position) == ("intent", "asks where the store is", 2)

    marketer_client.post(url(tenant_a, campaign, f"triggers/{trigger.pk}/delete/"))
    with tenant_scope(tenant_a):
        assert not ResponseTrigger.objects.filter(campaign=campaign).exists()


def test_a_trigger_with_no_keywords_or_a_broken_template_is_refused_with_clear_errors(marketer_client, tenant_a,
                                                                                      campaign):
    response = marketer_client.post(url(tenant_a, campaign, "triggers/"), {
        "kind": "keyword", "keywords": " , ", "intent": "", "response": "Hi {{ first_name", "position": "0"})

    page = response.content.decode()
    assert response.status_code == 400
    assert "Give at least one keyword." in page
    assert "Hi {{ first_name" in page  # what was typed is kept
    with tenant_scope(tenant_a):
        assert not ResponseTrigger.objects.exists()

    response = marketer_client.post(url(tenant_a, campaign, "triggers/"), {
        "kind": "intent", "keywords": "", "intent": "", "response": "Ok", "position": "0"})
    assert "Describe the intent." in response.content.decode()


# --- the test box -----------------------------------------------------------------------------------

def test_the_test_box_shows_the_trigger_answer_and_sends_nothing(marketer_client, tenant_a, campaign, hub):
    add_trigger(campaign, keywords=["price"], response="Hi {{ first_name | default: \"there\" }}, from ₹499.")

    response = marketer_client.post(url(tenant_a, campaign, "test/"), {"message": "price please"}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200 and 'id="test-result"' in html and "<html" not in html
    # {{ first_name }} is filled in from one of the campaign's recipients, as a real answer would be.
    assert "Trigger" in html and "Hi Asha, from ₹499." in html and "filled in for Asha" in html
    assert hub.received("meta") == []
    with tenant_scope(tenant_a):
        assert not AutoReply.objects.exists()


def test_the_test_box_shows_an_ai_answer_or_a_handover(marketer_client, tenant_a, campaign, hub, settings):
    settings.OPENAI_API_KEY = "sk-test-box"
    set_instruction(campaign, "Be warm.")

    ai = marketer_client.post(url(tenant_a, campaign, "test/"), {"message": "Open Sunday?"}, HTTP_HX_REQUEST="true")
    person = marketer_client.post(url(tenant_a, campaign, "test/"), {"message": "can someone call me"},
                                  HTTP_HX_REQUEST="true")
    empty = marketer_client.post(url(tenant_a, campaign, "test/"), {"message": ""}, HTTP_HX_REQUEST="true")

    assert "[Friendly] Hi there! Open Sunday? 😊" in ai.content.decode()
    assert "Handover" in person.content.decode() and "asked for a person" in person.content.decode()
    assert "Type a message to try." in empty.content.decode()
    assert hub.received("meta") == []


# --- roles and tenants --------------------------------------------------------------------------------

def test_the_settings_page_lists_triggers_and_links_back_to_the_campaign(marketer_client, tenant_a, campaign):
    add_trigger(campaign, keywords=["price"], response="From ₹499.")
    page = marketer_client.get(url(tenant_a, campaign)).content.decode()
    assert "Response triggers" in page and "From ₹499." in page and "Test AI responses" in page
    assert f"/campaigns/{campaign.pk}/" in page


def test_an_analyst_cannot_open_or_change_the_ai_settings(analyst_client, tenant_a, campaign):
    add_trigger(campaign, keywords=["price"], response="From ₹499.")
    assert analyst_client.get(url(tenant_a, campaign)).status_code == 403
    assert analyst_client.post(url(tenant_a, campaign, "training/"), {"status": "trained"}).status_code == 403
    assert analyst_client.post(url(tenant_a, campaign, "test/"), {"message": "hi"}).status_code == 403
    assert reload(campaign).ai_training_status == AiTrainingStatus.NOT_TRAINED


def test_another_tenants_campaign_and_trigger_answer_404(outsider_client, tenant_a, tenant_b, campaign):
    trigger = add_trigger(campaign, keywords=["price"], response="From ₹499.")
    base = f"/t/{tenant_b.slug}/campaigns/{campaign.pk}/ai/"
    assert outsider_client.get(base).status_code == 404
    assert outsider_client.post(base + "training/", {"status": "not_trained"}).status_code == 404
    assert outsider_client.get(f"{base}triggers/{trigger.pk}/").status_code == 404
    assert outsider_client.post(f"{base}triggers/{trigger.pk}/delete/").status_code == 404
    with tenant_scope(tenant_a):
        assert ResponseTrigger.objects.filter(pk=trigger.pk).exists()


def test_a_trigger_of_another_campaign_answers_404(marketer_client, tenant_a, campaign):
    other = make_campaign(tenant_a, name="Other")[0]
    trigger = add_trigger(other, keywords=["price"], response="From ₹499.")
    assert marketer_client.post(url(tenant_a, campaign, f"triggers/{trigger.pk}/delete/")).status_code == 404


# --- the grid's bulk action -------------------------------------------------------------------------

def test_bulk_update_training_status_trains_ready_campaigns_and_explains_the_others(marketer_client, tenant_a,
                                                                                     campaign):
    ready = make_campaign(tenant_a, trained=False, name="Ready one")[0]
    add_trigger(ready, keywords=["price"], response="From ₹499.")

    response = marketer_client.post(f"/t/{tenant_a.slug}/campaigns/bulk/",
                                    {"ids": [str(campaign.pk), str(ready.pk)], "action": "ai_trained"}, follow=True)

    page = response.content.decode()
    assert reload(ready).ai_training_status == AiTrainingStatus.TRAINED
    assert reload(campaign).ai_training_status == AiTrainingStatus.NOT_TRAINED
    assert "“Ready one” trained" in page and "before marking “Diwali sale” as trained" in page

    marketer_client.post(f"/t/{tenant_a.slug}/campaigns/bulk/", {"ids": [str(ready.pk)], "action": "ai_not_trained"})
    assert reload(ready).ai_training_status == AiTrainingStatus.NOT_TRAINED


def test_the_grid_offers_the_training_status_bulk_action(marketer_client, tenant_a, campaign):
    page = marketer_client.get(f"/t/{tenant_a.slug}/campaigns/").content.decode()
    assert 'optgroup label="Update training status"' in page and 'value="ai_trained"' in page
