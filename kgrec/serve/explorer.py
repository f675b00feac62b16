"""The explorer page of ``kgrec serve`` at ``/``: one HTML page, its script and its stylesheet, shipped in
``kgrec/serve/static`` and read once when the app is created (no request reads a file). The page draws what
the JSON endpoints answer, calling them from the browser; it needs no network beyond the service.

With a token the page and its files need it as every endpoint does, but a browser opening a page sends no
``Authorization`` header: they also take it as ``?token=`` (:mod:`kgrec.serve.guard`), the page's files are
linked with the same query, and the page's script sends it as ``Authorization: Bearer`` on its own requests.

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations at run time.
"""

from importlib import resources
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

PAGE = "index.html"
#: The page's files at ``/static/<name>`` and their content types.
ASSETS = {"explorer.js": "text/javascript; charset=utf-8", "explorer.css": "text/css; charset=utf-8"}
#: Where the page links its files: replaced by ``?token=...`` when the page was opened with one, else by "".
ASSET_QUERY = "{{asset_query}}"
#: Scripts, styles and requests from the service only (nothing from a CDN), never framed, no Referer sent
#: (a page URL may carry the token), nothing cached (the page as served may carry the token too).
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def static_file(name: str) -> bytes:
    """The bytes of one file of ``kgrec/serve/static`` (package data)."""
    return resources.files("kgrec.serve").joinpath("static", name).read_bytes()


def add_explorer(app: FastAPI) -> None:
    """Serve the explorer at ``/`` and its files at ``/static/<name>`` (neither is part of the OpenAPI schema)."""
    page = static_file(PAGE).decode("utf-8")
    assets = {name: (static_file(name), media_type) for name, media_type in ASSETS.items()}

    @app.get("/", include_in_schema=False)
    def explorer(request: Request) -> HTMLResponse:
        token = request.query_params.get("token")
        query = "?token=" + quote(token, safe="") if token else ""
        return HTMLResponse(page.replace(ASSET_QUERY, query), headers=HEADERS)

    @app.get("/static/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in assets:
            raise HTTPException(status_code=404, detail=f"no file {name!r}: the explorer's files are {', '.join(assets)}")
        body, media_type = assets[name]
        return Response(body, media_type=media_type, headers=HEADERS)
