"""A voice campaign's recording: uploaded in the wizard (MP3 / WAV recognised by their bytes, with
a size limit), stored through Django's storage, played with <Play> from a public absolute URL in
the TwiML the Twilio adapter sends (checked on what the fake Twilio received), and served to the
provider by UUID."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audiences.models import ConsentState, Contact
from campaigns import services
from campaigns.engine.dispatch import run_dispatch
from campaigns.engine.fanout import run_fan_out
from campaigns.media import MB, MediaRejected, media_store, media_validate
from campaigns.models import Campaign, CampaignContent, CampaignRun, DeliveryStatus
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope

MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 64
MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 64  # MPEG-1 layer III, no tag
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
SID = "AC" + "3" * 32
TOKEN = "voice-token-0123456789abcdef"


def upload(name, content, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.mark.parametrize(("name", "content", "content_type"), [
    ("offer.mp3", MP3_ID3, "audio/mpeg"),
    ("offer.bin", MP3_FRAME, "audio/mpeg"),  # the bytes decide, not the name
    ("offer.wav", WAV, "audio/wav"),
])
def test_recordings_are_recognised_by_their_bytes(name, content, content_type):
    media_type = media_validate(upload(name, content), audio=True)
    assert (media_type.kind, media_type.content_type) == ("audio", content_type)


@pytest.mark.parametrize(("name", "content"), [
    ("offer.mp3", PNG),                            # an image renamed
    ("offer.wav", b"RIFF\x24\x00\x00\x00AVI LIST"),  # a RIFF file, but not WAVE
    ("offer.mp3", b"\xff\xd8\xff\xe0JFIF"),        # a JPEG starts with 0xFF too
    ("offer.mp3", b""),
])
def test_anything_else_is_refused_as_a_recording(name, content):
    with pytest.raises(MediaRejected, match="Upload MP3 or WAV audio"):
        media_validate(upload(name, content, "audio/mpeg"), audio=True)


def test_an_oversized_recording_is_refused_with_the_limit():
    with pytest.raises(MediaRejected, match=r"WAV audio may be at most 10\.0\sMB"):
        media_validate(upload("long.wav", WAV + b"\x00" * (10 * MB)), audio=True)


def test_audio_is_not_an_attachment_and_an_image_is_not_a_recording():
    with pytest.raises(MediaRejected, match="JPG, PNG or GIF"):
        media_validate(upload("song.mp3", MP3_ID3))


# --- the wizard -----------------------------------------------------------------------------------

VOICE = {"voice-caller_id": "", "voice-queue": "", "voice-max_concurrent": "1", "voice-max_retries": "0",
         "voice-retry_delay": "60", "voice-script": "", "voice-amd_action": "hangup", "voice-voicemail_text": "",
         "voice-channel_config": "", "voice-media": "", "nav": "stay"}


@pytest.mark.django_db
def test_the_voice_panel_takes_a_recording_instead_of_a_script(marketer_client, tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with tenant_scope(tenant_a):
        campaign = Campaign.objects.create(tenant=tenant_a, name="Reminder call", channels=["voice"])
    step = f"/t/{tenant_a.slug}/campaigns/{campaign.pk}/edit/content/"
    page = marketer_client.get(step).content.decode()
    assert "Upload a recording" in page and 'accept=".mp3,.wav' in page

    response = marketer_client.post(step, {**VOICE, "voice-media_upload": upload("offer.mp3", PNG, "audio/mpeg")})
    assert response.status_code == 400 and "is not a file type we can send" in response.content.decode()

    recording = io.BytesIO(MP3_ID3)
    recording.name = "diwali offer.mp3"
    response = marketer_client.post(step, {**VOICE, "voice-media_upload": recording})
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        data = CampaignContent.objects.get(campaign=campaign, channel="voice").data
        media = campaign.media.get()
    assert data["audio_media_id"] == str(media.pk) and data["script"] == ""
    assert (media.kind, media.content_type) == ("audio", "audio/mpeg")
    page = marketer_client.get(step).content.decode()
    assert "diwali offer.mp3 (Audio)" in page
    review = marketer_client.get(f"/t/{tenant_a.slug}/campaigns/{campaign.pk}/edit/review/").content.decode()
    assert "Recording" in review and "diwali offer.mp3" in review


# --- the call -------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_the_call_plays_the_recording_from_a_public_absolute_url(tenant_a, fakes, settings, tmp_path, client):
    from django.core.cache import cache

    cache.clear()
    settings.MEDIA_ROOT = tmp_path
    settings.SITE_URL = "https://relay.example.com"
    with tenant_scope(tenant_a):
        config = ChannelConfig(tenant=tenant_a, name="Twilio voice", channel="voice", provider="twilio_voice",
                               settings={"account_sid": SID, "from_number": "+15005550006"},
                               rate_per_second=10, unit_cost=Decimal("0.02"), is_default=True)
        config.set_secrets({"auth_token": TOKEN})
        config.save()
        Contact.objects.create(tenant=tenant_a, first_name="Asha", phone="+919800000001",
                               consent_voice=ConsentState.OPTED_IN)
        campaign = Campaign.objects.create(tenant=tenant_a, name="Reminder call", channels=["voice"],
                                           audience_everyone=True, calling_hours_start=dt.time(0),
                                           calling_hours_end=dt.time(23, 59, 59))
        media = media_store(campaign=campaign, upload=upload("offer.wav", WAV), audio=True)
        CampaignContent.objects.create(tenant=tenant_a, campaign=campaign, channel="voice",
                                       data={"script": "", "audio_media_id": str(media.pk)})
        services.campaign_launch(campaign=campaign)
        run = CampaignRun.objects.get(campaign=campaign)
        run_fan_out(run_id=run.pk)
        # One pass: the call then counts as in progress until Twilio's callbacks (which go to
        # SITE_URL, not this test) say it ended.
        run_dispatch(run_id=run.pk, channel="voice", time_budget=2)
        delivery = run.deliveries.get()
        assert delivery.status == DeliveryStatus.SENT, delivery.error_message

    [call] = fakes.received("twilio", resource="Call")
    twiml = call["params"]["Twiml"]
    assert "<Say" not in twiml and "<Play>https://relay.example.com/m/" in twiml
    url = twiml.split("<Play>")[1].split("</Play>")[0]
    assert str(media.pk) in url and url.endswith(".wav")
    served = client.get(urlsplit(url).path)  # no login: Twilio fetches it
    assert served.status_code == 200 and served["Content-Type"] == "audio/wav"
    assert b"".join(served.streaming_content) == WAV
    other = client.get(urlsplit(url).path.replace(str(media.pk), "00000000-0000-4000-8000-000000000000"))
    assert other.status_code == 404
    assert client.get(urlsplit(url).path[:-2]).status_code == 404  # the id and the exact file name, both
