"""Tiny lastfm-dbpedia folders for tests: the files the parser reads, written from Python lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

RESOURCE = "http://dbpedia.org/resource/"


def write_lastfm_dbpedia(
    folder: Path,
    artists: Sequence[tuple[int, str, str]],
    graphs: Mapping[str, Sequence[tuple[str, str]]],
    listens: Mapping[int, Sequence[int]],
) -> None:
    """``user_artists.dat`` (``listens``: user → artist ids, weight 10 × artist id), ``mappings.tsv``
    (``artists``: id, name, DBpedia resource name) and one ``graphs/dbo:<relation>.edgelist`` per relation
    of ``graphs`` (head and tail resource names)."""
    (folder / "graphs").mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{user}\t{artist}\t{10 * artist}\n" for user, ids in listens.items() for artist in ids)
    (folder / "user_artists.dat").write_text("userID\tartistID\tweight\n" + rows, encoding="utf-8")
    mappings = "".join(f"{artist}\t{name}\t{RESOURCE}{uri}\n" for artist, name, uri in artists)
    (folder / "mappings.tsv").write_text(mappings, encoding="utf-8")
    for relation, edges in graphs.items():
        lines = "".join(f"{RESOURCE}{head} {RESOURCE}{tail}\n" for head, tail in edges)
        (folder / "graphs" / f"dbo:{relation}.edgelist").write_text(lines, encoding="utf-8")
