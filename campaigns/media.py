"""Campaign attachments: recognised by their first bytes, never by the file name or the browser's
content type (both are whatever the uploader says), checked for size, stored through Django's
default storage as CampaignMedia.

Two families: attachments (images, video, documents) for messages and posts, and audio (MP3,
WAV) that a voice call plays instead of text-to-speech. Providers fetch media themselves, so each
item has a public, absolute URL (media_public_url) carrying its unguessable UUID.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.text import get_valid_filename

from campaigns.models import Campaign, CampaignMedia

MB = 1024 * 1024
Kind = CampaignMedia.Kind


@dataclass(frozen=True)
class MediaType:
    kind: str
    content_type: str
    extension: str
    label: str
    max_bytes: int


# WhatsApp's own limits (image 5 MB, video 16 MB) are the tightest of our channels; documents are
# held to 16 MB too so a broadcast does not push hundreds of megabytes per recipient.
JPEG = MediaType(Kind.IMAGE, "image/jpeg", "jpg", "JPG image", 5 * MB)
PNG = MediaType(Kind.IMAGE, "image/png", "png", "PNG image", 5 * MB)
GIF = MediaType(Kind.IMAGE, "image/gif", "gif", "GIF image", 5 * MB)
MP4 = MediaType(Kind.VIDEO, "video/mp4", "mp4", "MP4 video", 16 * MB)
PDF = MediaType(Kind.DOCUMENT, "application/pdf", "pdf", "PDF document", 16 * MB)
DOC = MediaType(Kind.DOCUMENT, "application/msword", "doc", "Word document", 16 * MB)
DOCX = MediaType(Kind.DOCUMENT, "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                 "docx", "Word document", 16 * MB)

# Twilio's <Play> takes MP3 and WAV; a recorded message of a few minutes is well under 10 MB.
MP3 = MediaType(Kind.AUDIO, "audio/mpeg", "mp3", "MP3 audio", 10 * MB)
WAV = MediaType(Kind.AUDIO, "audio/wav", "wav", "WAV audio", 10 * MB)

ACCEPTED_LABEL = "JPG, PNG or GIF images (up to 5 MB), MP4 video (up to 16 MB), PDF or Word documents (up to 16 MB)"
# For the file input's accept attribute: a hint to the browser's picker, not a check.
ACCEPT_ATTR = ".jpg,.jpeg,.png,.gif,.mp4,.pdf,.doc,.docx"
AUDIO_ACCEPTED_LABEL = "MP3 or WAV audio (up to 10 MB)"
AUDIO_ACCEPT_ATTR = ".mp3,.wav,audio/mpeg,audio/wav"


class MediaRejected(ValueError):
    """The upload is not an accepted type or is too large; the message says which."""


def media_type_sniff(head: bytes, upload: UploadedFile | None = None) -> MediaType | None:
    """The type the bytes actually are, from their signature; None when not one we accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[4:8] == b"ftyp" and head[8:12] in (b"isom", b"iso2", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash"):
        return MP4
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2 compound file: .doc
        return DOC
    if head.startswith(b"PK\x03\x04") and upload is not None and _is_docx(upload):
        return DOCX
    return None


def _is_mp3(head: bytes) -> bool:
    if head.startswith(b"ID3"):  # an ID3v2 tag leads most MP3 files
        return True
    # Otherwise the first MPEG audio frame: 11 sync bits, a valid version and layer III.
    return len(head) >= 3 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 \
        and (head[1] >> 3) & 0x3 != 0x1 and (head[1] >> 1) & 0x3 == 0x1 and (head[2] >> 4) != 0xF


def audio_type_sniff(head: bytes) -> MediaType | None:
    """MP3 or WAV from the bytes; None otherwise."""
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return WAV
    if _is_mp3(head):
        return MP3
    return None


def _is_docx(upload: UploadedFile) -> bool:
    # Any zip starts with PK; only a Word package holds word/document.xml.
    try:
        upload.seek(0)
        with zipfile.ZipFile(upload) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    finally:
        upload.seek(0)


def media_validate(upload: UploadedFile, *, audio: bool = False) -> MediaType:
    """The upload's real type, or MediaRejected with a message the marketer can act on.

    audio=True accepts only MP3 / WAV (a voice call's recording); otherwise only attachments."""
    upload.seek(0)
    head = upload.read(32)
    upload.seek(0)
    media_type = audio_type_sniff(head) if audio else media_type_sniff(head, upload)
    if media_type is None:
        accepted = AUDIO_ACCEPTED_LABEL if audio else ACCEPTED_LABEL
        raise MediaRejected(f"“{upload.name}” is not a file type we can send. Upload {accepted}.")
    if upload.size > media_type.max_bytes:
        raise MediaRejected(
            f"“{upload.name}” is {filesizeformat(upload.size)}; a {media_type.label} may be at most "
            f"{filesizeformat(media_type.max_bytes)}."
        )
    return media_type


def media_store(*, campaign: Campaign, upload: UploadedFile, audio: bool = False) -> CampaignMedia:
    """Validate and save an upload for `campaign`. The stored name carries the real extension."""
    media_type = media_validate(upload, audio=audio)
    original = (upload.name or "upload")[-255:]
    stem = original.rsplit(".", 1)[0][:80] or "upload"
    media = CampaignMedia(
        tenant_id=campaign.tenant_id, campaign=campaign, original_name=original,
        content_type=media_type.content_type, kind=media_type.kind, size_bytes=upload.size,
    )
    upload.seek(0)
    media.file.save(f"{stem}.{media_type.extension}", upload, save=False)
    media.save()
    return media


def media_public_url(item: CampaignMedia) -> str:
    """The absolute URL a provider fetches the file from (Twilio's <Play>, WhatsApp media, ...).

    A storage that serves files itself (an S3-style backend) gives an absolute URL already;
    the file system storage is served by campaigns.public_views under the item's UUID, so the
    address can't be guessed from the file name."""
    url = item.file.url
    if url.startswith(("https://", "http://")):
        return url
    name = get_valid_filename(item.file.name.rsplit("/", 1)[-1]) or f"file.{item.content_type.rsplit('/', 1)[-1]}"
    return f"{settings.SITE_URL}{reverse('media_public', args=[item.pk, name])}"
