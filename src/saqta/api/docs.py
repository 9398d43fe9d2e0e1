"""The API's documentation pages, served with no request leaving the Fund's network.

FastAPI's own ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) pages load their JavaScript, CSS,
favicon and fonts from public CDNs, so on a closed network they stay blank. :func:`install`
serves the same pages from the assets vendored in ``static/`` (versions and licences in
``static/README.md``): the application is created with ``docs_url=None, redoc_url=None`` and then
passed to :func:`install`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

STATIC = Path(__file__).parent / "static"
"""The vendored assets: ``swagger-ui/`` and ``redoc/``."""

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/static"
"""Where the assets are served (``/docs/static/swagger-ui/...``, ``/docs/static/redoc/...``)."""

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "frame-ancestors 'self'",
    ]
)
"""The pages may load nothing from another origin: the browser refuses before any request.

It also stops what the vendored scripts would fetch on their own: ReDoc's sidebar shows a logo
from its vendor's CDN, which no option turns off. The inline scripts are FastAPI's page set-up.
"""

SWAGGER_UI_PARAMETERS: dict[str, object] = {"validatorUrl": None}
"""No badge from the public online validator (Swagger UI would show it for a public host)."""


def routes(app: FastAPI) -> frozenset[str]:
    """The paths :func:`install` adds to ``app``: pages and assets, public, holding no data."""
    pages = {DOCS_URL, REDOC_URL, ASSETS_URL}
    if app.swagger_ui_oauth2_redirect_url is not None:
        pages.add(app.swagger_ui_oauth2_redirect_url)
    return frozenset(pages)


def install(app: FastAPI) -> None:
    """Add ``/docs``, its OAuth2 redirect page, ``/redoc`` and their assets to ``app``.

    ``app`` must have been created with ``docs_url=None`` and ``redoc_url=None`` (else FastAPI's
    CDN pages would answer first) and with an OpenAPI URL.
    """
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError("create the application with docs_url=None and redoc_url=None")
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the application publishes no OpenAPI document")
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url
    app.mount(ASSETS_URL, StaticFiles(directory=STATIC), name="docs-static")

    def assets(request: Request) -> str:
        return f"{request.scope.get('root_path', '')}{ASSETS_URL}"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets(request)}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{assets(request)}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{assets(request)}/swagger-ui/favicon-32x32.png",
            oauth2_redirect_url=(
                f"{root}{oauth2_redirect_url}" if oauth2_redirect_url is not None else None
            ),
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters={**SWAGGER_UI_PARAMETERS, **(app.swagger_ui_parameters or {})},
        )
        return _locked(page)

    async def swagger_ui_oauth2_redirect(request: Request) -> HTMLResponse:
        return _locked(get_swagger_ui_oauth2_redirect_html())

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{assets(request)}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{assets(request)}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )
        return _locked(page)

    # Plain routes, as FastAPI adds its own documentation pages: outside the OpenAPI document.
    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    if oauth2_redirect_url is not None:
        app.add_route(oauth2_redirect_url, swagger_ui_oauth2_redirect, include_in_schema=False)
    app.add_route(REDOC_URL, redoc, include_in_schema=False)


def _locked(page: HTMLResponse) -> HTMLResponse:
    """``page`` with :data:`CONTENT_SECURITY_POLICY`."""
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
