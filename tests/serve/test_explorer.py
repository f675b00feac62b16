"""The explorer page of ``kgrec serve`` over HTTP: ``/`` and its files with their content types, nothing linked
from beyond the service, shipped as package data, and the token rule (the page and its files also take
``?token=``, the endpoints do not). The page in a real browser: ``test_explorer_browser.py``."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from kgrec.serve.explorer import ASSETS, HEADERS
from tests.serve.conftest import TOKEN, Server, a_user

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "kgrec" / "serve" / "static"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def with_query_token(server: Server, path: str, token: str) -> httpx.Response:
    """GET ``path?token=TOKEN`` (and no header): how a browser opens the page of a service with a token."""
    return httpx.get(server.url + path, params={"token": token}, headers={"Connection": "close"}, timeout=30)


def linked(html: str) -> list[str]:
    """The URLs the page's ``src`` and ``href`` attributes name."""
    return re.findall(r'(?:src|href)="([^"]*)"', html)


def test_the_page_and_its_files_are_served(server: Server) -> None:
    page = server.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>kgrec explorer</title>" in page.text and "{{" not in page.text
    assets = [url for url in linked(page.text) if not url.startswith("data:")]
    assert sorted(assets) == sorted(f"static/{name}" for name in ASSETS)
    for url in assets:
        answer = server.get("/" + url)
        assert answer.status_code == 200, url
        assert answer.headers["content-type"] == TYPES[Path(url).suffix], url
        assert answer.content == (STATIC / Path(url).name).read_bytes()
    for response in (page, server.get("/" + assets[0])):
        assert {name.lower(): value for name, value in HEADERS.items()}.items() <= dict(response.headers).items()
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_page_needs_no_network(server: Server) -> None:
    """Everything linked is a file of the service or a data: URL; the only absolute URL in the files is the SVG
    namespace (a name, never fetched); the browser test checks every request the page makes."""
    html = server.get("/").text
    assert all(not re.match(r"[a-z]+:|//", url) or url.startswith("data:") for url in linked(html)), linked(html)
    for name in ASSETS:
        text = server.get(f"/static/{name}").text
        assert set(re.findall(r"[a-z]+://[^\s\"'`)]*", text)) <= {SVG_NAMESPACE}, name
        assert "@import" not in text and "url(http" not in text


@pytest.mark.parametrize("path", ["/static/missing.js", "/static/..%2Fapp.py", "/static/../serve/app.py", "/static/"])
def test_no_other_file_is_served(server: Server, path: str) -> None:
    answer = server.get(path)
    assert answer.status_code == 404
    detail = answer.json()["detail"]
    assert detail == "Not Found" or detail.startswith(f"no file '{path.removeprefix('/static/')}': the explorer's files are")


def test_the_page_is_not_an_endpoint_of_the_schema(server: Server) -> None:
    paths = server.get("/openapi.json").json()["paths"]
    assert "/" not in paths and not any(path.startswith("/static") for path in paths)


def test_the_files_are_package_data() -> None:
    """Every file of ``kgrec/serve/static`` matches a ``package-data`` pattern, so a wheel ships it."""
    line = re.search(r'^"kgrec\.serve" = (\[.*\])$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert line, "pyproject.toml: no package-data line for kgrec.serve"
    patterns = json.loads(line.group(1))
    files = sorted(p.relative_to(STATIC.parent).as_posix() for p in STATIC.iterdir())
    assert files == sorted(["static/index.html", *(f"static/{name}" for name in ASSETS)])
    assert all(any(fnmatch(f, pattern) for pattern in patterns) for f in files), (files, patterns)


# ---- the token ----------------------------------------------------------------------------------------
def test_with_a_token_the_page_needs_it(guarded: Server) -> None:
    missing = guarded.get("/")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["detail"] == ("no Authorization header: this service needs 'Authorization: Bearer <token>' "
                                        "(the explorer page: /?token=<token>)")
    wrong = with_query_token(guarded, "/", TOKEN + "x")
    assert wrong.status_code == 401 and wrong.json()["detail"].startswith("wrong token")
    assert guarded.get("/", token=TOKEN).status_code == 200
    page = with_query_token(guarded, "/", TOKEN)
    assert page.status_code == 200
    assets = [url for url in linked(page.text) if not url.startswith("data:")]
    assert sorted(assets) == sorted(f"static/{name}?token={quote(TOKEN, safe='')}" for name in ASSETS)
    for url in assets:
        assert httpx.get(f"{guarded.url}/{url}", timeout=30).status_code == 200  # the page's own link
        file = "/" + url.split("?")[0]
        assert guarded.get(file).status_code == 401
        assert with_query_token(guarded, file, TOKEN + "x").status_code == 401
        assert guarded.get(file, token=TOKEN).status_code == 200


def test_the_endpoints_take_the_token_only_as_a_header(guarded: Server, run: Path) -> None:
    """``?token=`` opens the page and its files, not the JSON the page asks for."""
    path = f"/users/{a_user(run)}/recommendations"
    refused = with_query_token(guarded, path, TOKEN)
    assert refused.status_code == 401 and refused.json()["detail"].startswith("no Authorization header")
    assert "explorer" not in refused.json()["detail"]
    assert guarded.get(path, token=TOKEN).status_code == 200
    assert with_query_token(guarded, "/rules", TOKEN).status_code == 401
