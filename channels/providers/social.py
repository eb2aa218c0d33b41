"""Posts to connected social accounts: Facebook Page, Instagram, X and LinkedIn, over httpx.

OutboundMessage.to is the account (Page id, Instagram business account id, X user id, LinkedIn
author URN; empty means the configured account_id), text is the post, media[0] an image URL and
url a link. Each platform is one small subclass of SocialAdapter: how to post, how to ask "who am
I", and how to read its errors. Credentials: settings["account_id"], secrets["access_token"].
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from channels.base import (
    Capabilities,
    ChannelAdapter,
    ConfigField,
    Media,
    OutboundMessage,
    ProviderError,
    SendResult,
)
from channels.providers import http

logger = logging.getLogger(__name__)

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


@dataclass(frozen=True)
class SocialSettings:
    account_id: str
    access_token: str
    api_version: str


def _fields(account_label: str, account_help: str, *, account_required: bool = True, version_help: str = "") -> tuple[ConfigField, ...]:
    fields = [
        ConfigField("account_id", account_label, required=account_required, help=account_help),
        ConfigField("access_token", "Access token", secret=True),
    ]
    if version_help:
        fields.insert(1, ConfigField("api_version", "API version", required=False, help=version_help))
    return tuple(fields)


class SocialAdapter(ChannelAdapter):
    """What the four platforms share: settings, the per-post loop, HTTP calls and media fetches."""

    LABEL: ClassVar[str] = "Social"
    API_BASE_SETTING: ClassVar[str] = ""
    API_VERSION: ClassVar[str] = ""

    @property
    def settings(self) -> SocialSettings:
        s, k = self.config.settings, self.config.secrets
        return SocialSettings(
            account_id=str(s.get("account_id") or "").strip(),
            access_token=str(k.get("access_token") or "").strip(),
            api_version=str(s.get("api_version") or "").strip() or self.API_VERSION,
        )

    def _require(self, *, account: bool = False) -> SocialSettings:
        names = ("account_id", "access_token") if account else ("access_token",)
        http.require(self.LABEL, self.fields, {**self.config.settings, **self.config.secrets}, names)
        return self.settings

    def base_url(self) -> str:
        return http.setting(self.API_BASE_SETTING)

    def account_of(self, s: SocialSettings, message: OutboundMessage) -> str:
        account = (message.to or s.account_id).strip()
        if not account:
            raise ProviderError(f"{self.LABEL}: no account to post to.", code="invalid_account", permanent=True)
        return account

    def auth_headers(self, s: SocialSettings) -> dict[str, str]:
        return {"Authorization": f"Bearer {s.access_token}"}

    def call(self, method: str, url: str, s: SocialSettings, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth_headers(s), **kwargs.pop("headers", {})}
        response = http.request(method, url, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise self.classify(response.status_code, http.json_or_empty(response), response.headers)
        return response

    def fetch_media(self, media: Media) -> tuple[bytes, str]:
        """Download an image the platform wants uploaded rather than linked (X, LinkedIn)."""
        response = http.request("GET", media.url, follow_redirects=True)
        if response.status_code >= 400:
            raise ProviderError(
                f"Could not fetch the image {media.url}: HTTP {response.status_code}",
                code="media_unavailable",
                permanent=response.status_code < 500,
            )
        return response.content, response.headers.get("Content-Type", media.content_type).split(";")[0]

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        s = self._require()
        return http.send_each(messages, lambda m: self._send_one(s, m))

    def _send_one(self, s: SocialSettings, message: OutboundMessage) -> SendResult:
        if message.media and message.media[0].content_type not in IMAGE_TYPES:
            raise ProviderError(f"{self.LABEL} posts support images only, not {message.media[0].content_type}.",
                                code="unsupported_media", permanent=True)
        post_id = self.post(s, self.account_of(s, message), message)
        return SendResult(message_id=message.id, provider_message_id=post_id, cost=self.cost(message))

    def post(self, s: SocialSettings, account: str, message: OutboundMessage) -> str:
        """Publish one post; return the platform's post id."""
        raise NotImplementedError

    def classify(self, status: int, body: dict, headers: Mapping[str, str]) -> ProviderError:
        raise NotImplementedError

    @staticmethod
    def text_with_link(message: OutboundMessage) -> str:
        if message.url and message.url not in message.text:
            return f"{message.text}\n{message.url}".strip()
        return message.text


# --- Facebook and Instagram: Graph API ---------------------------------------------------------


class GraphAdapter(SocialAdapter):
    API_VERSION = "v21.0"

    # Graph error codes (https://developers.facebook.com/docs/graph-api/guides/error-handling).
    RATE_LIMIT_CODES: ClassVar[frozenset[int]] = frozenset({4, 17, 32, 613, 80001, 80002})
    TRANSIENT_CODES: ClassVar[frozenset[int]] = frozenset({1, 2})
    CREDENTIAL_CODES: ClassVar[frozenset[int]] = frozenset({190, 102, 10, 200, 467})
    PERMANENT_CODES: ClassVar[frozenset[int]] = frozenset({100, 324, 368, 506, 1500, 9004, 36003})

    def classify(self, status: int, body: dict, headers: Mapping[str, str]) -> ProviderError:
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        try:
            code = int(error.get("code"))
        except (TypeError, ValueError):
            code = None
        text = str(error.get("error_user_msg") or error.get("message") or f"HTTP {status}")
        code_str = str(code) if code is not None else str(status)
        if status == 429 or code in self.RATE_LIMIT_CODES:
            return ProviderError(text, code=code_str, retry_after=http.retry_after_seconds(headers))
        if code in self.CREDENTIAL_CODES or status == 401:
            return http.credentials_error(text, code=code_str)
        if code in self.PERMANENT_CODES:
            return ProviderError(text, code=code_str, permanent=True)
        if status >= 500 or code in self.TRANSIENT_CODES or error.get("is_transient"):
            return ProviderError(text, code=code_str)
        logger.debug("Unclassified Graph error %s: %s", status, body)
        return ProviderError(text, code=code_str, permanent=True)

    def graph_url(self, s: SocialSettings, path: str) -> str:
        return f"{self.base_url()}/{s.api_version}/{path.lstrip('/')}"

    def test_connection(self) -> str:
        s = self._require(account=True)
        data = self.call("GET", self.graph_url(s, s.account_id), s, params={"fields": self.WHOAMI_FIELDS}).json()
        return str(data.get("name") or data.get("username") or data.get("id") or s.account_id)

    WHOAMI_FIELDS: ClassVar[str] = "id,name"


class FacebookPage(GraphAdapter):
    LABEL = "Facebook Page"
    API_BASE_SETTING = "FACEBOOK_API_BASE"
    capabilities = Capabilities(channel="social", max_text_length=63206, media_types=IMAGE_TYPES,
                                max_batch=10, default_rate_per_second=1.0)
    fields = _fields("Page ID", "The numeric id of the Facebook Page.",
                     version_help=f"Graph API version, default {GraphAdapter.API_VERSION}.")

    def post(self, s: SocialSettings, account: str, message: OutboundMessage) -> str:
        if message.media:
            # A photo post: /photos publishes the image with the text as its caption.
            data = self.call("POST", self.graph_url(s, f"{account}/photos"), s,
                             data={"url": message.media[0].url, "caption": self.text_with_link(message)}).json()
            return str(data.get("post_id") or data.get("id") or "")
        form = {"message": message.text}
        if message.url:
            form["link"] = message.url
        data = self.call("POST", self.graph_url(s, f"{account}/feed"), s, data=form).json()
        return str(data.get("id") or "")


class Instagram(GraphAdapter):
    LABEL = "Instagram"
    API_BASE_SETTING = "INSTAGRAM_API_BASE"
    CAPTION_LIMIT = 2200
    capabilities = Capabilities(channel="social", max_text_length=CAPTION_LIMIT, media_types=frozenset({"image/jpeg"}),
                                max_batch=10, default_rate_per_second=1.0)
    fields = _fields("Instagram account ID", "The Instagram professional account id linked to your Page.",
                     version_help=f"Graph API version, default {GraphAdapter.API_VERSION}.")
    WHOAMI_FIELDS = "id,username,name"

    def post(self, s: SocialSettings, account: str, message: OutboundMessage) -> str:
        if not message.media:
            raise ProviderError("Instagram posts need an image.", code="media_required", permanent=True)
        caption = self.text_with_link(message)
        if len(caption) > self.CAPTION_LIMIT:
            raise ProviderError(f"Instagram captions are limited to {self.CAPTION_LIMIT} characters.",
                                code="text_too_long", permanent=True)
        # Two steps: create a media container from the image URL, then publish it.
        container = self.call("POST", self.graph_url(s, f"{account}/media"), s,
                              data={"image_url": message.media[0].url, "caption": caption}).json()
        creation_id = container.get("id")
        if not creation_id:
            raise ProviderError("Instagram returned no media container id.", code="no_container")
        published = self.call("POST", self.graph_url(s, f"{account}/media_publish"), s,
                              data={"creation_id": creation_id}).json()
        return str(published.get("id") or "")


# --- X (API v2) --------------------------------------------------------------------------------


class XPost(SocialAdapter):
    LABEL = "X"
    API_BASE_SETTING = "X_API_BASE"
    capabilities = Capabilities(channel="social", max_text_length=280, media_types=IMAGE_TYPES,
                                max_batch=10, default_rate_per_second=1.0)
    fields = _fields("X user ID", "Optional: the account's numeric id; posts go to the token's user.",
                     account_required=False)
    PERMANENT_CODES: ClassVar[frozenset[int]] = frozenset({400, 403, 404, 422})

    def account_of(self, s: SocialSettings, message: OutboundMessage) -> str:
        return (message.to or s.account_id).strip()  # the user token decides the author

    def post(self, s: SocialSettings, account: str, message: OutboundMessage) -> str:
        body: dict[str, Any] = {"text": self.text_with_link(message)}
        if message.media:
            body["media"] = {"media_ids": [self._upload(s, message.media[0])]}
        data = self.call("POST", f"{self.base_url()}/2/tweets", s, json=body).json()
        return str((data.get("data") or {}).get("id") or "")

    def _upload(self, s: SocialSettings, media: Media) -> str:
        content, content_type = self.fetch_media(media)
        response = self.call(
            "POST", f"{self.base_url()}/2/media/upload", s,
            data={"media_category": "tweet_image"},
            files={"media": (media.filename or "image", content, content_type)},
        )
        media_id = (http.json_or_empty(response).get("data") or {}).get("id")
        if not media_id:
            raise ProviderError("X returned no media id for the upload.", code="upload_failed")
        return str(media_id)

    def classify(self, status: int, body: dict, headers: Mapping[str, str]) -> ProviderError:
        errors = body.get("errors") if isinstance(body.get("errors"), list) else []
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        text = str(body.get("detail") or first.get("message") or first.get("detail") or body.get("title") or f"HTTP {status}")
        if status == 429:
            retry = http.retry_after_seconds(headers)
            reset = headers.get("x-rate-limit-reset")
            if retry is None and reset and reset.isdigit():
                retry = max(0.0, int(reset) - time.time())
            return ProviderError(text, code="429", retry_after=retry)
        if status >= 500:
            return ProviderError(text, code=str(status))
        if status == 401:
            return http.credentials_error(text, code="401")
        if status not in self.PERMANENT_CODES:
            logger.debug("Unclassified X error %s: %s", status, body)
        return ProviderError(text, code=str(status), permanent=True)

    def test_connection(self) -> str:
        s = self._require()
        data = self.call("GET", f"{self.base_url()}/2/users/me", s).json().get("data") or {}
        return f"{data.get('name', '')} (@{data.get('username', '?')})".strip()


# --- LinkedIn (Posts API) ----------------------------------------------------------------------


class LinkedIn(SocialAdapter):
    LABEL = "LinkedIn"
    API_BASE_SETTING = "LINKEDIN_API_BASE"
    # Versioned REST API: LinkedIn retires a version about a year after release.
    API_VERSION = "202506"
    capabilities = Capabilities(channel="social", max_text_length=3000, media_types=IMAGE_TYPES,
                                max_batch=10, default_rate_per_second=1.0)
    fields = _fields("Author URN", "urn:li:organization:<id> for a company page, urn:li:person:<id> for a member.",
                     version_help=f"LinkedIn-Version header (YYYYMM), default {API_VERSION}.")
    PERMANENT_CODES: ClassVar[frozenset[int]] = frozenset({400, 403, 404, 409, 422})

    def auth_headers(self, s: SocialSettings) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {s.access_token}",
            "LinkedIn-Version": s.api_version,
            "X-Restli-Protocol-Version": "2.0.0",
        }

    def account_of(self, s: SocialSettings, message: OutboundMessage) -> str:
        author = super().account_of(s, message)
        if not author.startswith("urn:li:"):
            raise ProviderError(f"{author!r} is not a LinkedIn author URN (urn:li:organization:… or urn:li:person:…).",
                                code="invalid_account", permanent=True)
        return author

    def post(self, s: SocialSettings, author: str, message: OutboundMessage) -> str:
        body: dict[str, Any] = {
            "author": author,
            "commentary": message.text,
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if message.media:
            body["content"] = {"media": {"id": self._upload(s, author, message.media[0]), "altText": message.title or ""}}
        elif message.url:
            body["content"] = {"article": {"source": message.url, "title": message.title or message.url}}
        response = self.call("POST", f"{self.base_url()}/rest/posts", s, json=body)
        # 201 with an empty body; the new post's URN is in x-restli-id.
        return response.headers.get("x-restli-id") or str(http.json_or_empty(response).get("id") or "")

    def _upload(self, s: SocialSettings, author: str, media: Media) -> str:
        content, content_type = self.fetch_media(media)
        init = self.call("POST", f"{self.base_url()}/rest/images", s, params={"action": "initializeUpload"},
                         json={"initializeUploadRequest": {"owner": author}}).json().get("value") or {}
        upload_url, image_urn = init.get("uploadUrl"), init.get("image")
        if not upload_url or not image_urn:
            raise ProviderError("LinkedIn returned no upload URL for the image.", code="upload_failed")
        self.call("PUT", upload_url, s, content=content, headers={"Content-Type": content_type})
        return str(image_urn)

    def classify(self, status: int, body: dict, headers: Mapping[str, str]) -> ProviderError:
        text = str(body.get("message") or f"HTTP {status}")
        code = str(body.get("code") or body.get("serviceErrorCode") or status)
        if status == 429:
            return ProviderError(text, code="429", retry_after=http.retry_after_seconds(headers))
        if status >= 500:
            return ProviderError(text, code=code)
        if status == 401:
            return http.credentials_error(text, code=code)
        if status not in self.PERMANENT_CODES:
            logger.debug("Unclassified LinkedIn error %s: %s", status, body)
        return ProviderError(text, code=code, permanent=True)

    def test_connection(self) -> str:
        s = self._require()
        data = self.call("GET", f"{self.base_url()}/v2/userinfo", s).json()
        return str(data.get("name") or data.get("sub") or "LinkedIn member")
