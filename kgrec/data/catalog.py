"""The built-in datasets: canonical URLs, the checksum lists kept in ``checksums/`` and their parsers."""

from __future__ import annotations

from importlib import resources

from kgrec.data.formats import kgcn, movielens, omdb
from kgrec.data.sources import RemoteFile
from kgrec.data.spec import DatasetSpec, DataSource, register

KGCN_MUSIC = "https://raw.githubusercontent.com/hwwang55/KGCN/2363ca2ddc66a79860629b2e0ec6ad23c57697c8/data/music/"
HETREC_ZIP = "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip"
ML100K_ZIP = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML1M_ZIP = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
MKR_MOVIE = "https://raw.githubusercontent.com/hwwang55/MKR/master/data/movie/"
OMDB = (
    "https://raw.githubusercontent.com/wey-gu/movie-recommendation-dataset/"
    "8f3d8a2a8768caa36a7fa5be74aa3872cea160d5/dbt_project/to_nebulagraph/"
)


def checksums(folder: str) -> dict[str, str]:
    """The published SHA256 of every file of a dataset folder (copied from its SHA256SUMS)."""
    text = resources.files("kgrec.data").joinpath("checksums", f"{folder}.sha256").read_text(encoding="utf-8")
    return {name: digest for digest, name in (line.split() for line in text.splitlines() if line.strip())}


def source(folder: str, urls: dict[str, tuple[str, str | None]]) -> DataSource:
    """A DataSource whose files are ``name -> (url, archive member or None)``, checksums from the list."""
    sums = checksums(folder)
    return DataSource(folder, tuple(RemoteFile(name, url, sums[name], member) for name, (url, member) in urls.items()))


LASTFM = source(
    "lastfm-kgcn",
    {
        "user_artists.dat": (KGCN_MUSIC + "user_artists.dat", None),
        "kg.txt": (KGCN_MUSIC + "kg.txt", None),
        "item_index2entity_id.txt": (KGCN_MUSIC + "item_index2entity_id.txt", None),
        "hetrec_artists.dat": (HETREC_ZIP, "artists.dat"),
    },
)
ML100K = source(
    "ml-100k",
    {name: (ML100K_ZIP, f"ml-100k/{name}") for name in ("u.data", "u.item", "u.user", "u.genre")},
)
ML1M_SATORI = source(
    "ml1m-satori-kg",
    {
        "movies.dat": (ML1M_ZIP, "ml-1m/movies.dat"),
        "kg.txt": (MKR_MOVIE + "kg.txt", None),
        "item_index2entity_id.txt": (MKR_MOVIE + "item_index2entity_id.txt", None),
    },
)
MOVIEKG_OMDB = source("moviekg-omdb", {name: (OMDB + name, None) for name in omdb.FILES})

register(
    DatasetSpec(
        "lastfm-kgcn",
        "Last.FM (HetRec 2011) listening data with the Microsoft Satori KG of KGCN; artist names",
        (LASTFM,),
        kgcn.load,
        licence="HetRec 2011: research use; KGCN repository MIT",
    )
)
register(
    DatasetSpec(
        "ml100k",
        "MovieLens 100K ratings; KG = u.item genres + the Satori KG of MKR linked by exact title",
        (ML100K, ML1M_SATORI),
        movielens.load,
        licence="GroupLens: research use, no redistribution",
    )
)
register(
    DatasetSpec(
        "moviekg-omdb",
        "MovieLens ml-latest-small ratings with OMDB actors, directors and genres, every entity named",
        (MOVIEKG_OMDB,),
        omdb.load,
        licence="OMDB CC BY-SA; MovieLens GroupLens licence",
    )
)
