"""The report in a real browser: headless Chromium loads it without console errors or network requests, every
picture decodes, and a screenshot is not blank. How Chromium is found and driven: :mod:`tests.chromium`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kgrec.report import build_report
from tests.chromium import HEIGHT, Browser, not_blank, open_browser
from tests.report.test_report import SECTION_TITLES, write_fake_run

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    with open_browser(tmp_path / "profile") as started:
        yield started


def test_report_renders_in_chromium(browser: Browser, tmp_path: Path) -> None:
    html_path, _ = build_report(write_fake_run(tmp_path / "run"))
    browser.open(html_path.resolve().as_uri())
    assert browser.errors() == []
    urls = browser.requested_urls()
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls  # nothing from the network
    assert browser.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)") == SECTION_TITLES
    images = browser.evaluate("[...document.images].map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])")
    assert len(images) == 2 and all(done and w > 100 and h > 100 for _, done, w, h in images), images
    assert browser.evaluate("document.fonts.status") == "loaded"
    assert browser.evaluate("document.body.scrollHeight") > HEIGHT  # a long page, not an error page
    png = browser.screenshot()
    (tmp_path / "screenshot.png").write_bytes(png)
    assert not_blank(png) > 0.02
    assert browser.errors() == []


def test_the_error_detection_works(browser: Browser, tmp_path: Path) -> None:
    """The control: a page with a console error, an exception and a missing picture is caught."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><body><p>bad</p><img src="missing.png" alt="x">'
        '<script>console.error("boom"); undefinedFunction();</script></body></html>',
        encoding="utf-8",
    )
    browser.open(page.as_uri())
    errors = browser.errors()
    assert any("boom" in e for e in errors), errors
    assert any(e.startswith("exception") for e in errors), errors
    assert any("missing.png" in e or e.startswith("network") for e in errors), errors
