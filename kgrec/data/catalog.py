"""The built-in datasets: canonical URLs, the checksum lists kept in ``checksums/`` and their parsers."""

from __future__ import annotations

from importlib import resources

from kgrec.data.formats import kgcn, lastfm_dbpedia, ml1m_dbpedia, movielens, omdb
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
PEARLM_ML1M = (
    "https://raw.githubusercontent.com/Chris1nexus/pearlm/"
    "60bdbb11a090deebc7a64250d4fcb086969ef7f3/data/ml1m/preprocessed/"
)
# the split and id maps live in the repository's mapping/ subfolder, and land in mapping/ locally too
ML1M_DBPEDIA = source("ml1m-dbpedia", {name: (PEARLM_ML1M + name, None) for name in ml1m_dbpedia.FILES})
ENTITY2REC_LASTFM = (
    "https://raw.githubusercontent.com/D2KLab/entity2rec/380c1599ea5825bbb650c248f25bf42385b619bc/datasets/LastFM/"
)
LASTFM_DBPEDIA = source(
    "lastfm-dbpedia",
    {
        "user_artists.dat": (HETREC_ZIP, "user_artists.dat"),
        "mappings.tsv": (ENTITY2REC_LASTFM + "original/mappings.tsv", None),
        # graphs/dbo:genre.edgelist is .../graphs/dbo%3Agenre.edgelist (a colon in a URL path is escaped)
        **{name: (ENTITY2REC_LASTFM + name.replace(":", "%3A"), None) for name in lastfm_dbpedia.GRAPHS},
    },
)

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
register(
    DatasetSpec(
        "lastfm-dbpedia",
        "Last.FM (HetRec 2011) listening data with entity2rec's DBpedia KG (10 properties); every entity named",
        (LASTFM_DBPEDIA,),
        lastfm_dbpedia.load,
        licence="HetRec 2011: research use; entity2rec Apache-2.0, LODrecsys mapping MIT; DBpedia CC BY-SA 3.0",
    )
)
register(
    DatasetSpec(
        "ml1m-dbpedia",
        "MovieLens-1M positives with their per-user time split and a named DBpedia KG (pearlm / hopwise ml1m, 11 relations)",
        (ML1M_DBPEDIA,),
        ml1m_dbpedia.load,
        licence="MovieLens (GroupLens): research use, no redistribution, cite Harper & Konstan 2015; DBpedia CC BY-SA 3.0",
    )
)
