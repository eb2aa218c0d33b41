"""Attachments are recognised by their bytes and size, never by the name or the browser's type."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.media import MB, MediaRejected, media_store, media_validate
from campaigns.models import Campaign, CampaignMedia

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
GIF = b"GIF89a" + b"\x00" * 32
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 16
PDF = b"%PDF-1.7\n" + b"\x00" * 32
DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def docx_bytes(*, word: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml" if word else "xl/workbook.xml", "<w/>")
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "content", "kind", "content_type"), [
    ("photo.jpg", JPEG, "image", "image/jpeg"),
    ("photo.bin", PNG, "image", "image/png"),  # the name does not matter, the bytes do
    ("anim.gif", GIF, "image", "image/gif"),
    ("clip.mp4", MP4_HEAD, "video", "video/mp4"),
    ("terms.pdf", PDF, "document", "application/pdf"),
    ("old.doc", DOC, "document", "application/msword"),
    ("new.docx", docx_bytes(), "document",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
])
def test_accepted_types_are_recognised_by_content(name, content, kind, content_type):
    media_type = media_validate(upload(name, content))
    assert (media_type.kind, media_type.content_type) == (kind, content_type)


@pytest.mark.parametrize(("name", "content"), [
    ("banner.jpg", b"MZ\x90\x00 an executable renamed"),
    ("banner.png", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>"),
    ("sheet.docx", docx_bytes(word=False)),  # a zip, but not a Word document
    ("empty.pdf", b""),
])
def test_wrong_content_is_rejected_whatever_the_name_and_browser_type(name, content):
    with pytest.raises(MediaRejected, match="is not a file type we can send"):
        media_validate(upload(name, content, content_type="image/jpeg"))


def test_oversized_video_is_rejected_with_the_limit():
    big = upload("long.mp4", MP4_HEAD + b"\x00" * (16 * MB))
    with pytest.raises(MediaRejected, match=r"MP4 video may be at most 16\.0\xa0MB"):
        media_validate(big)
    media_validate(upload("ok.mp4", MP4_HEAD + b"\x00" * (16 * MB - len(MP4_HEAD))))


def test_oversized_image_is_rejected():
    with pytest.raises(MediaRejected, match="JPG image may be at most 5"):
        media_validate(upload("huge.jpg", JPEG + b"\x00" * (5 * MB)))


@pytest.mark.django_db
def test_stored_through_default_storage_with_the_real_extension(in_tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    campaign = Campaign.objects.create(tenant=in_tenant_a, name="Sale", channels=["whatsapp"])
    media = media_store(campaign=campaign, upload=upload("promo.jpeg.exe", PNG, content_type="image/jpeg"))
    stored = CampaignMedia.objects.get(pk=media.pk)
    assert stored.kind == "image" and stored.content_type == "image/png" and stored.size_bytes == len(PNG)
    assert stored.original_name == "promo.jpeg.exe" and stored.file.name.endswith(".png")
    assert stored.file.read() == PNG
