"""``/docs`` without a CDN: Swagger UI's files come from the ``swagger-ui-py`` wheel.

FastAPI's own ``/docs`` page loads Swagger UI from a public CDN, which an on-premises server
(no Internet) cannot reach. This replaces that route by the same page with local assets.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, HTTPException, Response
from fastapi.openapi.docs import get_swagger_ui_html

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


def install_offline_docs(app: FastAPI) -> bool:
    """Swap FastAPI's CDN-based ``/docs`` for a local one; False when swagger-ui-py is absent."""
    if not app.docs_url or not app.openapi_url:
        return False
    try:
        static = resources.files("swagger_ui").joinpath("static")
    except ModuleNotFoundError:
        return False
    docs_url, openapi_url = app.docs_url, app.openapi_url
    assets = f"{docs_url}/assets"
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) != docs_url]

    async def swagger_ui() -> Response:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
        )

    async def asset(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(404)
        body = static.joinpath(name).read_bytes()
        return Response(body, media_type=ASSETS[name], headers={"cache-control": "max-age=86400"})

    app.add_api_route(docs_url, swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{assets}/{{name}}", asset, methods=["GET"], include_in_schema=False)
    return True
