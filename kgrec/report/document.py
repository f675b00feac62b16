"""The report's tiny document model (paragraphs, headings, tables, code, pictures) and its HTML / Markdown pages."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Union, cast

ASSETS = "report"  # the folder of the Markdown report's pictures, next to report.md

# Inline text: a plain string, or (style, text) with style "" (plain), "b" (bold), "em" (emphasis), "code".
Inline = Union[str, tuple[str, str]]
Text = Union[Inline, Sequence[Inline]]

_HTML_TAGS = {"": "{}", "b": "<strong>{}</strong>", "em": "<em>{}</em>", "code": "<code>{}</code>"}
_MD_MARKS = {"": "{}", "b": "**{}**", "em": "*{}*", "code": "`{}`"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def _parts(text: Text) -> list[tuple[str, str]]:
    """Inline text as a list of (style, value) pairs."""
    if isinstance(text, str):
        return [("", text)]
    if isinstance(text, tuple) and len(text) == 2 and all(isinstance(t, str) for t in text) and text[0] in _HTML_TAGS:
        return [cast(tuple[str, str], text)]
    return [("", p) if isinstance(p, str) else cast(tuple[str, str], p) for p in cast(Sequence[Inline], text)]


def md_escape(text: str) -> str:
    """Escape Markdown specials and fold line breaks into spaces."""
    return _MD_SPECIAL.sub(r"\\\1", text.replace("\r", " ").replace("\n", " "))


def inline_html(text: Text) -> str:
    """Inline text as escaped HTML."""
    return "".join(_HTML_TAGS[style].format(html.escape(value)) for style, value in _parts(text))


def inline_md(text: Text) -> str:
    """Inline text as escaped Markdown."""
    out = []
    for style, value in _parts(text):
        value = value.replace("\r", " ").replace("\n", " ")
        if style == "code":  # a backtick cannot be escaped inside a code span: fence with a longer run
            fence = "``" if "`" in value else "`"
            out.append(f"{fence} {value} {fence}" if fence == "``" else f"`{value}`")
        elif value:
            out.append(_MD_MARKS[style].format(md_escape(value)))
    return "".join(out)


@dataclass
class P:
    """A paragraph; ``cls`` "na" marks a "not available" line, "note" a small note, "summary" the summary."""

    text: Text
    cls: str = ""

    def html(self) -> str:
        cls = f' class="{self.cls}"' if self.cls else ""
        return f"<p{cls}>{inline_html(self.text)}</p>"

    def md(self) -> str:
        body = inline_md(self.text)
        return f"_{body}_" if self.cls == "na" else body


def not_available(what: str) -> P:
    """A "Not available: <what>." line."""
    return P(f"Not available: {what}.", "na")


@dataclass
class Heading:
    """A heading of level ``level``."""

    level: int
    text: Text

    def html(self) -> str:
        return f"<h{self.level}>{inline_html(self.text)}</h{self.level}>"

    def md(self) -> str:
        return f"{'#' * self.level} {inline_md(self.text)}"


@dataclass
class Table:
    """``header``: column titles; ``rows``: cells (inline text); ``numeric``: right-aligned column indexes;
    ``row_classes``: an optional CSS class per row ("chosen", "main"); ``kv``: a two-column key/value table."""

    header: Sequence[str]
    rows: Sequence[Sequence[Text]]
    numeric: frozenset[int] = frozenset()
    row_classes: Sequence[str] = ()
    kv: bool = False

    def html(self) -> str:
        def cell(tag: str, k: int, text: Text) -> str:
            cls = ' class="num"' if k in self.numeric else ""
            return f"<{tag}{cls}>{inline_html(text)}</{tag}>"

        head = ""
        if any(self.header):
            head = "<thead><tr>" + "".join(cell("th", k, h) for k, h in enumerate(self.header)) + "</tr></thead>"
        body = []
        for r, row in enumerate(self.rows):
            cls = self.row_classes[r] if r < len(self.row_classes) else ""
            cells = "".join(cell("th" if self.kv and k == 0 else "td", k, c) for k, c in enumerate(row))
            body.append(f'<tr class="{cls}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
        table_class = ' class="kv"' if self.kv else ""
        return f"<table{table_class}>{head}<tbody>{''.join(body)}</tbody></table>"

    def md(self) -> str:
        width = max([len(self.header)] + [len(r) for r in self.rows])
        header = list(self.header) + [""] * (width - len(self.header))
        lines = ["| " + " | ".join(inline_md(h) for h in header) + " |",
                 "| " + " | ".join("---:" if k in self.numeric else "---" for k in range(width)) + " |"]
        for row in self.rows:
            cells = [inline_md(c) for c in row] + [""] * (width - len(row))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


@dataclass
class Pre:
    """Preformatted text (a YAML block, a tree); ``cls`` "columns" flows a long block into columns in HTML."""

    text: str
    caption: str = ""
    cls: str = ""

    def html(self) -> str:
        caption = f'<p class="note">{html.escape(self.caption)}</p>' if self.caption else ""
        cls = f' class="{self.cls}"' if self.cls else ""
        return f"{caption}<pre{cls}><code>{html.escape(self.text)}</code></pre>"

    def md(self) -> str:
        fence = "```"
        while fence in self.text:
            fence += "`"
        caption = f"{inline_md(self.caption)}\n\n" if self.caption else ""
        return f"{caption}{fence}\n{self.text.rstrip()}\n{fence}"


@dataclass
class Picture:
    """A PNG shown inline in HTML (base64) and written as ``report/<name>`` for the Markdown."""

    name: str
    data: bytes
    alt: str
    caption: str = ""

    def html(self) -> str:
        encoded = base64.b64encode(self.data).decode("ascii")
        caption = f"<figcaption>{html.escape(self.caption)}</figcaption>" if self.caption else ""
        return f'<figure><img src="data:image/png;base64,{encoded}" alt="{html.escape(self.alt)}">{caption}</figure>'

    def md(self) -> str:
        caption = f"\n\n{inline_md(self.caption)}" if self.caption else ""
        return f"![{md_escape(self.alt)}]({ASSETS}/{self.name}){caption}"


@dataclass
class Card:
    """A framed group of blocks (one explained recommendation)."""

    blocks: list[Any]

    def html(self) -> str:
        return '<div class="card">' + "\n".join(b.html() for b in self.blocks) + "</div>"

    def md(self) -> str:
        return "\n\n".join(b.md() for b in self.blocks)


@dataclass
class Section:
    """A titled report section made of blocks."""

    id: str
    title: str
    blocks: list[Any] = field(default_factory=list)

    def pictures(self) -> Iterable[Picture]:
        """The section's pictures, those inside cards included."""
        for block in self.blocks:
            inner = block.blocks if isinstance(block, Card) else [block]
            yield from (b for b in inner if isinstance(b, Picture))


def _css() -> str:
    """The report's stylesheet (``style.css``)."""
    return resources.files("kgrec.report").joinpath("style.css").read_text(encoding="utf-8")


def render_html(title: str, summary: P, sections: Sequence[Section]) -> str:
    """The whole self-contained HTML page."""
    toc = " ".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in sections)
    body = [f"<h1>{html.escape(title)}</h1>", f'<nav class="toc">{toc}</nav>', summary.html()]
    for section in sections:
        body.append(f'<section id="{section.id}">\n<h2>{html.escape(section.title)}</h2>')
        body += [block.html() for block in section.blocks]
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{_css()}</style>\n</head>\n<body>\n"
        + "\n".join(body) + "\n</body>\n</html>\n"
    )


def render_md(title: str, summary: P, sections: Sequence[Section]) -> str:
    """The whole Markdown page."""
    parts = [f"# {md_escape(title)}", summary.md()]
    for section in sections:
        parts.append(f"## {md_escape(section.title)}")
        parts += [block.md() for block in section.blocks]
    return "\n\n".join(parts) + "\n"
