"""The demo page at ``/demo``: static HTML + JS that calls this server's compare endpoint."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, HTTPException, Response

ASSETS = {
    "demo.html": "text/html; charset=utf-8",
    "demo.js": "text/javascript; charset=utf-8",
    "demo.css": "text/css; charset=utf-8",
}
# Same-origin only; images are shown from data: URLs, the camera from a blob/media stream.
HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'",
    "permissions-policy": "camera=(self), microphone=(), geolocation=()",
}

router = APIRouter(tags=["demo"])


def asset(name: str) -> Response:
    if name not in ASSETS:
        raise HTTPException(404)
    body = resources.files("facecompare.api").joinpath("static", name).read_bytes()
    return Response(body, media_type=ASSETS[name], headers=HEADERS)


@router.get(
    "/demo", summary="Demo page: compare two photos in the browser", response_class=Response
)
async def demo_page() -> Response:
    return asset("demo.html")


@router.get("/demo/{name}", include_in_schema=False)
async def demo_asset(name: str) -> Response:
    return asset(name)
