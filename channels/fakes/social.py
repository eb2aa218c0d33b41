"""Fake social platforms, one prefix each (set the *_API_BASE settings to <fake>/<prefix>):

  /facebook   Graph API: GET /{v}/{page-id}, POST /{v}/{page-id}/feed, POST /{v}/{page-id}/photos
  /instagram  Graph API: GET /{v}/{ig-id}, POST /{v}/{ig-id}/media, POST /{v}/{ig-id}/media_publish
  /x          API v2: GET /2/users/me, POST /2/tweets, POST /2/media/upload
  /linkedin   GET /v2/userinfo, POST /rest/posts, POST /rest/images?action=initializeUpload,
              PUT /linkedin/_upload/{id} (the upload URL it hands out)
  GET /social-media/sample.png  a small image to use as a media URL

Each platform has its own control routes (<prefix>/_received, _fault, _config). Scripted errors:
the bearer token "expired-token" gets the platform's own expired-token error (Graph code 190, X 401,
LinkedIn 401 INVALID_ACCESS_TOKEN); X refuses a duplicate of an earlier post's text (403).
"""

from __future__ import annotations

import base64
import itertools
import secrets
import time
from typing import Any

from aiohttp import web

from channels.fakes._kit import Fault, ProviderFake, bearer, fault_response, read_body

EXPIRED_TOKEN = "expired-token"
# 1x1 transparent PNG.
SAMPLE_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def graph_error(code: int, message: str, *, subcode: int | None = None, status: int = 400) -> web.Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": secrets.token_urlsafe(9)}
    if subcode:
        error["error_subcode"] = subcode
    return web.json_response({"error": error}, status=status)


def _graph_fault(fault: Fault) -> dict[str, Any]:
    code = fault.code if fault.code is not None else (32 if fault.status == 429 else 2 if fault.status >= 500 else 100)
    return {"error": {"message": fault.message or f"Injected error {fault.status}", "type": "OAuthException",
                      "code": int(code), "is_transient": fault.status >= 500, "fbtrace_id": "fake"}}


def _x_fault(fault: Fault) -> dict[str, Any]:
    title = "Too Many Requests" if fault.status == 429 else "Service Unavailable" if fault.status >= 500 else "Forbidden"
    return {"title": title, "detail": fault.message or title, "type": "about:blank", "status": fault.status}


def _linkedin_fault(fault: Fault) -> dict[str, Any]:
    return {"status": fault.status, "code": str(fault.code or fault.status), "message": fault.message or f"Injected error {fault.status}"}


def _expired_graph() -> web.Response:
    return graph_error(190, "Error validating access token: Session has expired on Monday, 01-Jan-24 00:00:00 PST.",
                       subcode=463)


def add_routes(app: web.Application, state: Any) -> None:
    counter = itertools.count(100001)
    _add_graph(app, state, "facebook", counter)
    _add_graph(app, state, "instagram", counter)
    _add_x(app, state, counter)
    _add_linkedin(app, state, counter)

    async def sample(request: web.Request) -> web.Response:
        return web.Response(body=SAMPLE_PNG, content_type="image/png")

    app.router.add_get("/social-media/sample.png", sample)


def _add_graph(app: web.Application, state: Any, platform: str, counter) -> None:
    prefix = f"/{platform}"
    fake = ProviderFake(name=platform, prefix=prefix, state=state)
    containers: set[str] = set()

    async def guarded(request: web.Request, kind: str) -> tuple[dict[str, Any], dict[str, Any], web.Response | None]:
        body = await read_body(request) if request.method == "POST" else dict(request.query)
        entry = fake.record(kind=kind, path=request.path, node=request.match_info.get("node"), body=body,
                            authorization=request.headers.get("Authorization", ""))
        fault = await fake.take_fault()
        if fault is not None:
            entry["answered"] = fault.status
            return entry, body, fault_response(fault, _graph_fault)
        token = bearer(request) or str(body.get("access_token", ""))
        if not token:
            entry["answered"] = 400
            return entry, body, graph_error(2500, "An active access token must be used to query information about the current user.")
        if token == EXPIRED_TOKEN:
            entry["answered"] = 400
            return entry, body, _expired_graph()
        return entry, body, None

    async def node(request: web.Request) -> web.Response:
        entry, _body, problem = await guarded(request, "node")
        if problem:
            return problem
        entry["answered"] = 200
        node_id = request.match_info["node"]
        if platform == "instagram":
            return web.json_response({"id": node_id, "username": "fake.brand", "name": "Fake Brand"})
        return web.json_response({"id": node_id, "name": "Fake Page"})

    async def feed(request: web.Request) -> web.Response:
        entry, body, problem = await guarded(request, "feed")
        if problem:
            return problem
        if not body.get("message") and not body.get("link"):
            entry["answered"] = 400
            return graph_error(100, "(#100) Missing message or attachment")
        entry["answered"] = 200
        return web.json_response({"id": f"{request.match_info['node']}_{next(counter)}"})

    async def photos(request: web.Request) -> web.Response:
        entry, body, problem = await guarded(request, "photos")
        if problem:
            return problem
        if not body.get("url"):
            entry["answered"] = 400
            return graph_error(324, "(#324) Requires upload file")
        photo_id = str(next(counter))
        entry["answered"] = 200
        return web.json_response({"id": photo_id, "post_id": f"{request.match_info['node']}_{photo_id}"})

    async def media(request: web.Request) -> web.Response:
        entry, body, problem = await guarded(request, "media")
        if problem:
            return problem
        if not body.get("image_url") and not body.get("video_url"):
            entry["answered"] = 400
            return graph_error(9004, "Only photo or video can be accepted as media type.")
        container = str(17800000000000000 + next(counter))
        containers.add(container)
        entry["answered"] = 200
        return web.json_response({"id": container})

    async def media_publish(request: web.Request) -> web.Response:
        entry, body, problem = await guarded(request, "media_publish")
        if problem:
            return problem
        if str(body.get("creation_id")) not in containers:
            entry["answered"] = 400
            return graph_error(100, "(#100) The parameter creation_id is invalid", subcode=2207027)
        entry["answered"] = 200
        return web.json_response({"id": str(17900000000000000 + next(counter))})

    fake.add_control_routes(app)
    app.router.add_get(prefix + "/{version}/{node}", node)
    if platform == "facebook":
        app.router.add_post(prefix + "/{version}/{node}/feed", feed)
        app.router.add_post(prefix + "/{version}/{node}/photos", photos)
    else:
        app.router.add_post(prefix + "/{version}/{node}/media", media)
        app.router.add_post(prefix + "/{version}/{node}/media_publish", media_publish)


def _add_x(app: web.Application, state: Any, counter) -> None:
    prefix = "/x"
    fake = ProviderFake(name="x", prefix=prefix, state=state)
    texts: set[str] = set()

    async def guarded(request: web.Request, kind: str, body: dict[str, Any]) -> tuple[dict[str, Any], web.Response | None]:
        entry = fake.record(kind=kind, path=request.path, body=body, authorization=request.headers.get("Authorization", ""))
        fault = await fake.take_fault()
        if fault is not None:
            entry["answered"] = fault.status
            response = fault_response(fault, _x_fault)
            if fault.status == 429:
                response.headers["x-rate-limit-reset"] = str(int(time.time() + (fault.retry_after or 15)))
                response.headers.pop("Retry-After", None)
            return entry, response
        token = bearer(request)
        if not token or token == EXPIRED_TOKEN:
            entry["answered"] = 401
            return entry, web.json_response({"title": "Unauthorized", "type": "about:blank", "status": 401,
                                             "detail": "Unauthorized"}, status=401)
        return entry, None

    async def me(request: web.Request) -> web.Response:
        entry, problem = await guarded(request, "me", {})
        if problem:
            return problem
        entry["answered"] = 200
        return web.json_response({"data": {"id": "2244994945", "name": "Fake Brand", "username": "fakebrand"}})

    async def tweets(request: web.Request) -> web.Response:
        body = await read_body(request)
        entry, problem = await guarded(request, "tweet", body)
        if problem:
            return problem
        text = str(body.get("text") or "")
        if not text and not body.get("media"):
            entry["answered"] = 400
            return web.json_response({"errors": [{"message": "Post text or media is required"}], "title": "Invalid Request",
                                      "detail": "One or more parameters to your request was invalid.",
                                      "type": "https://api.twitter.com/2/problems/invalid-request"}, status=400)
        if text in texts:
            entry["answered"] = 403
            return web.json_response({"detail": "You are not allowed to create a Tweet with duplicate content.",
                                      "type": "about:blank", "title": "Forbidden", "status": 403}, status=403)
        texts.add(text)
        tweet_id = str(1800000000000000000 + next(counter))
        entry["answered"] = 201
        return web.json_response({"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}, status=201)

    async def upload(request: web.Request) -> web.Response:
        body = await read_body(request)
        entry, problem = await guarded(request, "media_upload", body)
        if problem:
            return problem
        media = body.get("media")
        if not isinstance(media, dict) or not media.get("size"):
            entry["answered"] = 400
            return web.json_response({"title": "Invalid Request", "detail": "media is required", "status": 400}, status=400)
        media_id = str(1900000000000000000 + next(counter))
        entry["answered"] = 200
        return web.json_response({"data": {"id": media_id, "media_key": f"3_{media_id}", "size": media["size"],
                                           "expires_after_secs": 86400, "image": {"image_type": media.get("content_type", "")}}})

    fake.add_control_routes(app)
    app.router.add_get(f"{prefix}/2/users/me", me)
    app.router.add_post(f"{prefix}/2/tweets", tweets)
    app.router.add_post(f"{prefix}/2/media/upload", upload)


def _add_linkedin(app: web.Application, state: Any, counter) -> None:
    prefix = "/linkedin"
    fake = ProviderFake(name="linkedin", prefix=prefix, state=state)
    images: dict[str, dict[str, Any]] = {}

    async def guarded(request: web.Request, kind: str, body: Any, *, versioned: bool) -> tuple[dict[str, Any], web.Response | None]:
        entry = fake.record(kind=kind, path=request.path, query=dict(request.query), body=body,
                            linkedin_version=request.headers.get("LinkedIn-Version"),
                            restli=request.headers.get("X-Restli-Protocol-Version"),
                            authorization=request.headers.get("Authorization", ""))
        fault = await fake.take_fault()
        if fault is not None:
            entry["answered"] = fault.status
            return entry, fault_response(fault, _linkedin_fault)
        token = bearer(request)
        if not token or token == EXPIRED_TOKEN:
            entry["answered"] = 401
            return entry, web.json_response({"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN",
                                             "message": "Invalid access token"}, status=401)
        if versioned and not (request.headers.get("LinkedIn-Version") or "").isdigit():
            entry["answered"] = 400
            return entry, web.json_response({"status": 400, "code": "VERSION_MISSING",
                                             "message": "A version must be present. Please specify a version by adding the LinkedIn-Version header."}, status=400)
        return entry, None

    async def userinfo(request: web.Request) -> web.Response:
        entry, problem = await guarded(request, "userinfo", {}, versioned=False)
        if problem:
            return problem
        entry["answered"] = 200
        return web.json_response({"sub": "782bbtaQ", "name": "Fake Member", "given_name": "Fake", "family_name": "Member",
                                  "email": "member@example.com", "email_verified": True})

    async def posts(request: web.Request) -> web.Response:
        body = await read_body(request)
        entry, problem = await guarded(request, "post", body, versioned=True)
        if problem:
            return problem
        author = str(body.get("author", ""))
        if not author.startswith("urn:li:") or not body.get("commentary") and not body.get("content"):
            entry["answered"] = 422
            return web.json_response({"status": 422, "code": "UNPROCESSABLE_ENTITY",
                                      "message": "ERROR :: /author :: is not a valid urn"}, status=422)
        media_id = ((body.get("content") or {}).get("media") or {}).get("id")
        if media_id and not images.get(media_id, {}).get("uploaded"):
            entry["answered"] = 400
            return web.json_response({"status": 400, "code": "INVALID_CONTENT", "message": f"Image {media_id} is not uploaded"}, status=400)
        urn = f"urn:li:share:{7000000000000000000 + next(counter)}"
        entry["answered"] = 201
        return web.Response(status=201, headers={"x-restli-id": urn, "x-linkedin-id": urn})

    async def images_action(request: web.Request) -> web.Response:
        body = await read_body(request)
        entry, problem = await guarded(request, "image_init", body, versioned=True)
        if problem:
            return problem
        if request.query.get("action") != "initializeUpload":
            entry["answered"] = 400
            return web.json_response({"status": 400, "message": "Unknown action"}, status=400)
        upload_id = secrets.token_urlsafe(10)
        urn = f"urn:li:image:C4E{upload_id}"
        images[urn] = {"upload_id": upload_id, "uploaded": False}
        entry["answered"] = 200
        return web.json_response({"value": {"uploadUrlExpiresAt": int(time.time() * 1000) + 3600_000,
                                            "uploadUrl": f"{request.scheme}://{request.host}{prefix}/_upload/{upload_id}",
                                            "image": urn}})

    async def upload(request: web.Request) -> web.Response:
        data = await request.read()
        upload_id = request.match_info["upload_id"]
        fake.record(kind="image_upload", path=request.path, size=len(data), content_type=request.content_type)
        for image in images.values():
            if image["upload_id"] == upload_id:
                image["uploaded"] = bool(data)
                return web.Response(status=201)
        return web.json_response({"status": 404, "message": "Unknown upload"}, status=404)

    fake.add_control_routes(app)
    app.router.add_get(f"{prefix}/v2/userinfo", userinfo)
    app.router.add_post(f"{prefix}/rest/posts", posts)
    app.router.add_post(f"{prefix}/rest/images", images_action)
    app.router.add_put(prefix + "/_upload/{upload_id}", upload)
