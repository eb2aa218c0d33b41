"""Social posts (Facebook Page, Instagram, X, LinkedIn) against the fake platforms over real HTTP."""

from __future__ import annotations

import time

import pytest

from channels.base import ConfigurationError, Media, OutboundMessage, ProviderConfig, ProviderError
from channels.providers.social import FacebookPage, Instagram, LinkedIn, XPost
from tests.channels.providers.fake_hub import hub_fixture, short_timeouts_fixture  # noqa: F401

ACCOUNTS = {FacebookPage: "104857600", Instagram: "17841400000000001", XPost: "", LinkedIn: "urn:li:organization:2414183"}
PLATFORM = {FacebookPage: "facebook", Instagram: "instagram", XPost: "x", LinkedIn: "linkedin"}


def make(cls, token: str = "good-token", **settings):
    return cls(ProviderConfig(key=PLATFORM[cls], settings={"account_id": ACCOUNTS[cls], **settings},
                              secrets={"access_token": token}))


def image(hub) -> Media:
    return Media(url=hub.sample_image, content_type="image/png")


# --- success payloads ------------------------------------------------------------------------------


def test_a_facebook_text_post_with_a_link_goes_to_the_page_feed(hub):
    [result] = make(FacebookPage).send([OutboundMessage(id="d1", to="104857600", text="Big sale", url="https://acme.example/sale")])
    assert result.ok and result.provider_message_id.startswith("104857600_")
    [call] = hub.received("facebook", kind="feed")
    assert call["path"] == "/facebook/v21.0/104857600/feed"
    assert call["body"] == {"message": "Big sale", "link": "https://acme.example/sale"}
    assert call["authorization"] == "Bearer good-token"


def test_a_facebook_photo_post_uses_the_photos_edge_with_a_caption(hub):
    [result] = make(FacebookPage).send([OutboundMessage(id="d1", to="104857600", text="New in", media=(image(hub),))])
    assert result.ok and result.provider_message_id.startswith("104857600_")
    [call] = hub.received("facebook", kind="photos")
    assert call["body"] == {"url": hub.sample_image, "caption": "New in"}


def test_an_instagram_post_creates_a_container_then_publishes_it(hub):
    [result] = make(Instagram).send([OutboundMessage(id="d1", to="", text="Fresh drop", media=(image(hub),))])
    assert result.ok
    calls = hub.received("instagram")
    assert [c["kind"] for c in calls] == ["media", "media_publish"]
    assert calls[0]["body"] == {"image_url": hub.sample_image, "caption": "Fresh drop"}
    assert calls[0]["path"] == "/instagram/v21.0/17841400000000001/media"
    assert calls[1]["body"]["creation_id"]


def test_an_instagram_post_without_an_image_is_refused_locally(hub):
    [result] = make(Instagram).send([OutboundMessage(id="d1", to="", text="Words only")])
    assert result.error.code == "media_required" and result.error.permanent
    assert hub.received("instagram") == []


def test_an_x_post_uploads_the_image_then_posts_with_its_media_id(hub):
    [result] = make(XPost).send([OutboundMessage(id="d1", to="", text="Launch day", url="https://acme.example",
                                                 media=(image(hub),))])
    assert result.ok
    upload, tweet = hub.received("x")
    assert upload["kind"] == "media_upload"
    assert upload["body"]["media_category"] == "tweet_image"
    assert upload["body"]["media"]["size"] > 0
    assert tweet["body"]["text"] == "Launch day\nhttps://acme.example"
    assert tweet["body"]["media"]["media_ids"] and tweet["body"]["media"]["media_ids"][0].isdigit()
    assert result.provider_message_id.isdigit()


def test_a_linkedin_post_is_versioned_and_returns_the_share_urn(hub):
    message = OutboundMessage(id="d1", to="urn:li:organization:2414183", text="We're hiring", url="https://acme.example/jobs",
                              title="Careers")
    [result] = make(LinkedIn).send([message])
    assert result.ok and result.provider_message_id.startswith("urn:li:share:")
    [call] = hub.received("linkedin", kind="post")
    assert call["linkedin_version"] == LinkedIn.API_VERSION
    assert call["restli"] == "2.0.0"
    assert call["body"]["author"] == "urn:li:organization:2414183"
    assert call["body"]["commentary"] == "We're hiring"
    assert call["body"]["content"] == {"article": {"source": "https://acme.example/jobs", "title": "Careers"}}
    assert call["body"]["lifecycleState"] == "PUBLISHED"


def test_a_linkedin_image_post_initialises_uploads_and_references_the_image(hub):
    [result] = make(LinkedIn).send([OutboundMessage(id="d1", to="", text="Look", media=(image(hub),))])
    assert result.ok
    init, upload, post = hub.received("linkedin")
    assert (init["kind"], upload["kind"], post["kind"]) == ("image_init", "image_upload", "post")
    assert init["body"] == {"initializeUploadRequest": {"owner": "urn:li:organization:2414183"}}
    assert upload["size"] > 0
    assert post["body"]["content"]["media"]["id"].startswith("urn:li:image:")


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "code", "words"), [
    (FacebookPage, "190", "Session has expired"),
    (Instagram, "190", "Session has expired"),
    (XPost, "401", "Unauthorized"),
    (LinkedIn, "INVALID_ACCESS_TOKEN", "Invalid access token"),
])
def test_an_expired_token_fails_permanently_with_the_platforms_own_words_after_one_call(hub, cls, code, words):
    messages = [OutboundMessage(id=f"d{i}", to="", text=f"post {i}", media=(image(hub),)) for i in range(2)]
    results = make(cls, token="expired-token").send(messages)
    assert [r.error.code for r in results] == [code, code]
    assert all(r.error.permanent for r in results)
    assert words in results[0].error.message
    assert len([c for c in hub.received(PLATFORM[cls]) if c.get("answered") is not None]) == 1


@pytest.mark.parametrize("cls", [FacebookPage, Instagram, XPost, LinkedIn])
def test_test_connection_names_the_account_or_raises_the_platforms_error(hub, cls):
    assert make(cls).test_connection() in {"Fake Page", "Fake Brand", "Fake Brand (@fakebrand)", "Fake Member"}
    with pytest.raises(ProviderError) as caught:
        make(cls, token="expired-token").test_connection()
    assert caught.value.permanent


def test_x_refuses_a_duplicate_post_permanently(hub):
    adapter = make(XPost)
    assert adapter.send([OutboundMessage(id="d1", to="", text="Same words")])[0].ok
    [result] = adapter.send([OutboundMessage(id="d2", to="", text="Same words")])
    assert result.error.permanent and result.error.code == "403"
    assert "duplicate content" in result.error.message


@pytest.mark.parametrize("cls", [FacebookPage, XPost, LinkedIn])
def test_a_platform_outage_is_transient(hub, cls):
    hub.fault(PLATFORM[cls], status=503)
    [result] = make(cls).send([OutboundMessage(id="d1", to="", text="Hello outage")])
    assert not result.error.permanent


def test_graph_rate_limiting_is_transient_with_retry_after(hub):
    hub.fault("facebook", status=429, retry_after=60, code=32)
    [result] = make(FacebookPage).send([OutboundMessage(id="d1", to="", text="hi")])
    assert not result.error.permanent and result.error.code == "32" and result.error.retry_after == 60


def test_x_rate_limiting_uses_the_reset_header(hub):
    hub.fault("x", status=429, retry_after=90)
    [result] = make(XPost).send([OutboundMessage(id="d1", to="", text="rate limited")])
    assert not result.error.permanent and result.error.code == "429"
    assert 80 <= result.error.retry_after <= 91


def test_linkedin_rate_limiting_is_transient_with_retry_after(hub):
    hub.fault("linkedin", status=429, retry_after=5)
    [result] = make(LinkedIn).send([OutboundMessage(id="d1", to="", text="hi")])
    assert not result.error.permanent and result.error.retry_after == 5


def test_a_timeout_is_transient(hub, short_timeouts):
    hub.fault("facebook", status=0, delay=1.5)
    started = time.monotonic()
    [result] = make(FacebookPage).send([OutboundMessage(id="d1", to="", text="slow")])
    assert result.error.code == "timeout" and not result.error.permanent
    assert time.monotonic() - started < 1.5


def test_a_linkedin_author_must_be_a_urn(hub):
    [result] = make(LinkedIn).send([OutboundMessage(id="d1", to="2414183", text="hi")])
    assert result.error.code == "invalid_account"
    assert hub.received("linkedin") == []


@pytest.mark.parametrize("cls", [FacebookPage, Instagram, XPost, LinkedIn])
def test_a_missing_access_token_is_a_clear_configuration_error(cls):
    adapter = cls(ProviderConfig(key=PLATFORM[cls], settings={}, secrets={}))
    with pytest.raises(ConfigurationError, match="Access token"):
        adapter.send([OutboundMessage(id="d1", to="x", text="hi")])


def test_test_connection_needs_the_account_id_for_graph_platforms():
    adapter = FacebookPage(ProviderConfig(key="facebook_page", settings={}, secrets={"access_token": "t"}))
    with pytest.raises(ConfigurationError, match="Page ID"):
        adapter.test_connection()
