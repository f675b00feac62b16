"""Bring your own data: train kgrec on your own ratings CSV and knowledge-graph triples.

kgrec reads a folder of plain files (the ``tsv`` format, see README "Bring your own data"):

    interactions.csv   header ``user,item,rating`` (``timestamp`` optional); one row per rating
    triples.tsv        ``head<TAB>relation<TAB>tail``, e.g. ``film/heat  directed_by  person/michael_mann``
    links.tsv          ``item<TAB>entity``: which KG entity each item is
    item_names.tsv, entity_names.tsv   optional ``id<TAB>name`` display names

Without ``--data`` the script writes a small synthetic but meaningful folder of that shape (40 viewers who
each favour one director's films, 30 real films with their directors and genres), then trains on it with
``kgrec.train(FOLDER, overrides=["data.threshold=4", ...])`` (ratings >= 4 count as likes) and prints an
explained top-3 with the folder's own names.

    python examples/bring_your_own_data.py                      # writes runs/examples/byod/data, trains
    python examples/bring_your_own_data.py --data my_folder     # your own folder of files
    python examples/bring_your_own_data.py --epochs 2 --out /tmp/byod --set model.dim=8   # smoke test
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

import kgrec

FILMS = {  # title: (director, genres)
    "Memento": ("Christopher Nolan", ["Thriller"]), "Inception": ("Christopher Nolan", ["Sci-Fi", "Thriller"]),
    "Interstellar": ("Christopher Nolan", ["Sci-Fi"]), "The Prestige": ("Christopher Nolan", ["Drama", "Thriller"]),
    "Heat": ("Michael Mann", ["Crime"]), "Collateral": ("Michael Mann", ["Crime", "Thriller"]),
    "Thief": ("Michael Mann", ["Crime"]), "The Insider": ("Michael Mann", ["Drama"]),
    "Spirited Away": ("Hayao Miyazaki", ["Animation"]), "My Neighbor Totoro": ("Hayao Miyazaki", ["Animation"]),
    "Princess Mononoke": ("Hayao Miyazaki", ["Animation", "Adventure"]),
    "Porco Rosso": ("Hayao Miyazaki", ["Animation"]),
    "Point Break": ("Kathryn Bigelow", ["Action", "Crime"]), "Strange Days": ("Kathryn Bigelow", ["Sci-Fi"]),
    "The Hurt Locker": ("Kathryn Bigelow", ["War", "Drama"]),
    "Zero Dark Thirty": ("Kathryn Bigelow", ["Thriller", "War"]),
    "Arrival": ("Denis Villeneuve", ["Sci-Fi", "Drama"]), "Sicario": ("Denis Villeneuve", ["Crime", "Thriller"]),
    "Prisoners": ("Denis Villeneuve", ["Thriller"]), "Dune": ("Denis Villeneuve", ["Sci-Fi", "Adventure"]),
    "Parasite": ("Bong Joon-ho", ["Thriller", "Drama"]), "Memories of Murder": ("Bong Joon-ho", ["Crime"]),
    "Snowpiercer": ("Bong Joon-ho", ["Sci-Fi", "Action"]), "Okja": ("Bong Joon-ho", ["Adventure"]),
    "Lady Bird": ("Greta Gerwig", ["Comedy", "Drama"]), "Little Women": ("Greta Gerwig", ["Drama"]),
    "Barbie": ("Greta Gerwig", ["Comedy"]), "Lost in Translation": ("Sofia Coppola", ["Drama", "Comedy"]),
    "Marie Antoinette": ("Sofia Coppola", ["Drama"]), "The Virgin Suicides": ("Sofia Coppola", ["Drama"]),
}
FIRST_NAMES = "ana ben chloe dev eli fay gus hana ivo jun kim leo mia noor omar pia quinn raj sol tom".split()
VIEWERS = [f"{name}_{n}" for n in (1, 2) for name in FIRST_NAMES]  # 40 viewers: ana_1 ... tom_2


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def write_example_folder(folder: Path, seed: int = 7) -> Path:
    """A user's files: every viewer rates 3 films of a favourite director and 2 other films 4-5, 2 more films 1-2."""
    rng, folder = random.Random(seed), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    directors = sorted({director for director, _ in FILMS.values()})
    with open(folder / "interactions.csv", "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["user", "item", "rating"])
        for n, viewer in enumerate(VIEWERS):
            own = [t for t, (d, _) in FILMS.items() if d == directors[n % len(directors)]]
            others = rng.sample([t for t in FILMS if t not in own], 4)
            rated = [(t, rng.randint(4, 5)) for t in rng.sample(own, 3) + others[:2]]
            rated += [(t, rng.randint(1, 2)) for t in others[2:]]
            out.writerows([viewer, slug(t), rating] for t, rating in rated)
    triples = [(f"film/{slug(t)}", "directed_by", f"person/{slug(d)}") for t, (d, _) in FILMS.items()]
    triples += [(f"film/{slug(t)}", "has_genre", f"genre/{slug(g)}") for t, (_, gs) in FILMS.items() for g in gs]
    names = {f"person/{slug(d)}": d for d, _ in FILMS.values()}
    names |= {f"genre/{slug(g)}": g for _, gs in FILMS.values() for g in gs}
    tables = {"triples": triples, "links": [(slug(t), f"film/{slug(t)}") for t in FILMS],
              "item_names": [(slug(t), t) for t in FILMS], "entity_names": sorted(names.items())}
    for name, rows in tables.items():
        (folder / f"{name}.tsv").write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description="Train kgrec on a folder of your own files.")
    parser.add_argument("--data", type=Path, help="your folder (or interactions file); default: write OUT/data")
    parser.add_argument("--epochs", type=int, default=100, help="training epochs (default 100)")
    parser.add_argument("--out", type=Path, default=Path("runs/examples/byod"), help="output directory")
    parser.add_argument("--user", help="user to explain (default: the first one)")
    parser.add_argument("--threshold", type=float, default=4, help="ratings >= this are likes (default 4)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override: model.dim=16")
    args = parser.parse_args()

    folder = args.data or write_example_folder(args.out / "data")
    files = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else [folder.name]
    print(f"data folder: {folder}  ({', '.join(files)})")
    overrides = [f"data.threshold={args.threshold}", f"train.epochs={args.epochs}", "model.attention=false", *args.set]
    rec = kgrec.train(folder.resolve(), overrides=overrides, out=args.out / "run", progress=False)
    stats = rec.dataset.stats()
    print(f"{stats.users} users, {stats.items} items, {stats.interactions} likes, {stats.triples} triples "
          f"({', '.join(f'{r}: {n}' for r, n in stats.per_relation.items())})")
    print(f"test NDCG@20 {rec.evaluate()['ndcg@20']:.4f}")

    user = args.user or rec.dataset.users.raw(0)
    print(f"\n{user} liked: {', '.join(rec.dataset.items.name(i) for i in rec.history(user))}")
    for e in rec.recommend(user, 3, explain=True):
        print(f"  {e.rank}. {rec.dataset.items.name(e.item)}\n     {e.text}")
    print(f"\nrun directory: {rec.run_dir}")


if __name__ == "__main__":
    main()
