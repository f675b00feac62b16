"""The run report: sections, the best-per-column bold, real curve pictures, self-containment, missing files, atomicity.

``write_fake_run`` writes a small but complete pipeline run directory by hand (known numbers everywhere);
``tests/report/test_browser.py`` reuses it.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import yaml

import kgrec.report.plots
from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.explain import render
from kgrec.explain.phrases import PhraseTable
from kgrec.explain.rules import RuleSet
from kgrec.explain.types import Explanation, Rule
from kgrec.explain.types import Path as KgPath
from kgrec.report import build_report, gallery_picture_name
from kgrec.version import __version__

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SECTION_TITLES = [
    "Gallery of explained recommendations", "Dataset", "Configuration", "Training curves",
    "Metrics against the compared models", "Top mined rules", "Explanation quality",
]
HEAT = 'Heat <b>&</b> "Co"'  # a name that must be escaped everywhere
# five-node graph: users u1=0 u2=1 | items Heat=2 Collateral=3 | Michael Mann=4;
# relations: interact=0 directed_by=1 interact⁻¹=2 directed_by⁻¹=3
HISTORY = [  # epoch, loss, bpr, l2, kg, valid_ndcg@20, valid_recall@20 (None: not evaluated that epoch)
    (1, 0.90, 0.69, 0.95, 1.00, 0.10, 0.20),
    (2, 0.70, 0.60, 0.93, 0.60, None, None),
    (3, 0.50, 0.45, 0.92, 0.30, 0.30, 0.45),
    (4, 0.40, 0.38, 0.91, 0.20, 0.25, 0.47),
    (5, 0.35, 0.33, 0.90, 0.15, 0.28, 0.46),
]
COMPARISON = [  # name, ndcg@20, recall@20, precision@20, hit@20, mrr@20 (+ @10 values that must not be shown)
    ("kgrec", 0.3012, 0.4400, 0.0500, 0.7000, 0.2600),
    ("LightGCN", 0.2900, 0.4511, 0.0490, 0.7000, 0.2700),
    ("Pop", 0.1000, 0.2000, 0.0200, 0.3500, 0.0900),
]


def _dataset() -> RecDataset:
    interactions = pd.DataFrame({"user": ["u1", "u2", "u1"], "item": ["i1", "i2", "i2"]})
    triples = pd.DataFrame({"head": ["e1", "e2"], "relation": ["directed_by", "directed_by"], "tail": ["e3", "e3"]})
    links = pd.DataFrame({"item": ["i1", "i2"], "entity": ["e1", "e2"]})
    return RecDataset.from_frames(
        "five", interactions, triples, links, item_names={"i1": HEAT, "i2": "Collateral"},
        entity_names={"e3": "Michael Mann"},
    )


def write_fake_run(run_dir: Path) -> Path:
    """A complete pipeline run directory on the five-node graph (u1 gets Collateral explained)."""
    dataset = _dataset()
    graph = CollaborativeKG.build(dataset, dataset.interactions.take(np.array([0, 1])))
    assert graph.relation_names == ("interact", "directed_by", "interact⁻¹", "directed_by⁻¹")
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "kgrec_version": __version__,
        "data": {"name": "five"}, "split": {"scheme": "ratio", "ratios": [0.7, 0.1, 0.2], "seed": 7},
        "model": {"model": "kgrec", "dim": 8, "layers": 2, "attention": False, "use_kg": True, "kge": "transh",
                  "lambda_kg": 0.1},
        "train": {"epochs": 5, "metric": "ndcg@20", "seed": 7}, "eval": {"ks": [10, 20]},
        "explain": {"max_len": 3}, "pipeline": {"compare": ["lightgcn", "pop"], "gallery_users": 1},
    }
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    card = {"name": "five", "users": 2, "items": 2, "interactions": 3, "entities": 3, "relations": 1, "triples": 2}
    (run_dir / "dataset.json").write_text(json.dumps(card), encoding="utf-8")
    stats = {**dataset.stats().to_dict(), "info": {
        "title": "Five nodes <tiny>", "licence": "CC0", "url": "https://example.org/five", "positives": "every pair"}}
    (run_dir / "dataset_stats.json").write_text(json.dumps(stats), encoding="utf-8")
    split = {"dataset": "five", "scheme": "ratio", "seed": 7, "train": 2, "valid": 0, "test": 1,
             "train_users": 2, "valid_users": 0, "test_users": 1}
    (run_dir / "split").mkdir(exist_ok=True)
    (run_dir / "split" / "split.json").write_text(json.dumps(split), encoding="utf-8")
    with open(run_dir / "history.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "loss", "bpr", "l2", "kg", "valid_ndcg@20", "valid_recall@20", "seconds"])
        for row in HISTORY:
            writer.writerow(["" if v is None else v for v in row] + [0.5])
    test = {"ndcg@10": 0.99, "recall@10": 0.99, "ndcg@20": 0.3012, "recall@20": 0.44, "users": 1}
    metrics = {"test": test, "valid": {"ndcg@20": 0.30}, "best_epoch": 3, "epochs_run": 5, "seconds_to_best": 1.5,
               "seconds_per_epoch": 0.5, "train_seconds": 2.5, "eval_seconds": 0.01, "peak_rss_mb": 512.0,
               "split": split}
    (run_dir / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    rows = []
    for n, (name, ndcg, recall, precision, hit, mrr) in enumerate(COMPARISON):
        values = {"ndcg@20": ndcg, "recall@20": recall, "precision@20": precision, "hit@20": hit, "mrr@20": mrr,
                  "ndcg@10": 0.99, "recall@10": 0.99}
        trained = name != "Pop"
        rows.append({"name": name, "model": name.lower(), "test": values, "best_epoch": 3 + n if trained else None,
                     "seconds_to_best": 1.5 + n if trained else None, "peak_rss_mb": 500.0 + n})
    (run_dir / "comparison.json").write_text(json.dumps({"rows": rows}), encoding="utf-8")
    same = Rule((1, 3), support=12, connected=40, confidence=0.3, head_coverage=0.02, lift=3.5, test_precision=0.125)
    shared = Rule((3, 1), support=5, connected=50, confidence=0.1, head_coverage=0.01, lift=1.2)
    RuleSet((same, shared), n_items=2, n_coliked=2, base_rate=1.0, relation_names=graph.relation_names).save(
        run_dir / "rules.json"
    )
    explain_eval = {
        "users": 2, "k": 2, "explained": 4, "path_coverage": 0.75, "path_coverage_len3": 0.5, "rule_coverage": 0.25,
        "named_coverage": 1.0, "told_weight_share": 0.75, "told_weight_share_median": 0.5, "collaborative_share": 0.25,
        "cases": 3, "fidelity": 0.9, "fidelity_strict_rank": 0.6, "rank_ties": 0.3, "mean_rank_drop": 2.5,
        "random_rank_drop": 0.01, "mean_score_drop": 0.5, "random_score_drop": 0.002, "average_path_length": 3.0,
        "explanation_diversity": 0.5, "distinct_rules_used": 1, "rules": 2, "rule_precision": None,
        "constant_rule_share": 0.125, "constant_rules": 7,
        "surrogate": {"accuracy": 0.875, "f1": 0.8, "train_pairs": 10, "test_pairs": 4,
                      "tree": "|--- #history items via same director <= 0.50\n|   |--- class: 0"},
        "seconds": 0.42,
    }
    (run_dir / "explain_eval.json").write_text(json.dumps(explain_eval), encoding="utf-8")
    path = KgPath((0, 2, 4, 3), (0, 1, 3), 0.5)
    expl = Explanation(user=0, item=1, score=2.5, rank=1, paths=(path,), chosen=0, rule=same, told_share=0.75)
    fallback = Explanation(user=0, item=0, score=0.1, rank=2, fallback=True)
    phrases = PhraseTable.load("five")
    document = render.recommendations_document(0, [expl, fallback], graph, phrases, {"run": str(run_dir)})
    (run_dir / "gallery.json").write_text(json.dumps({"users": [document]}, ensure_ascii=False), encoding="utf-8")
    picture = run_dir / "gallery" / gallery_picture_name("u1", 1, "i2")
    render.draw_subgraph(render.explanation_subgraph(expl, graph, phrases), picture)
    return run_dir


# ---- parsing the page ------------------------------------------------------------------------------------
class Page(HTMLParser):
    """Headings, images, links, tags and table cells (with their section id and whether they are bold)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.headings: dict[str, list[str]] = {"h1": [], "h2": [], "h3": [], "h4": []}
        self.images: list[dict[str, str]] = []
        self.urls: list[str] = []
        self.cells: dict[str, list[list[tuple[str, bool]]]] = {}  # section id -> rows of (text, bold)
        self._section = ""
        self._heading: str | None = None
        self._cell: list[str] | None = None
        self._bold = False
        self._text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        self.urls += [values[k] for k in ("src", "href") if k in values]
        if tag == "section":
            self._section = values.get("id", "")
        elif tag in self.headings:
            self._heading, self._text = tag, []
        elif tag == "img":
            self.images.append(values)
        elif tag == "tr":
            self.cells.setdefault(self._section, []).append([])
        elif tag in ("td", "th"):
            self._cell, self._bold = [], False
        elif tag == "strong" and self._cell is not None:
            self._bold = True

    def handle_endtag(self, tag: str) -> None:
        if tag == self._heading:
            self.headings[tag].append("".join(self._text).strip())
            self._heading = None
        elif tag in ("td", "th") and self._cell is not None:
            self.cells[self._section][-1].append(("".join(self._cell).strip(), self._bold))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._heading:
            self._text.append(data)
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_fake_run(tmp_path / "run")


def _png_pixels(data: bytes) -> np.ndarray:
    assert data.startswith(PNG_SIGNATURE)
    return matplotlib.image.imread(io.BytesIO(data), format="png")


# ---- the full report -------------------------------------------------------------------------------------
def test_report_has_every_section_in_order(run_dir: Path) -> None:
    html_path, md_path = build_report(run_dir)
    assert (html_path, md_path) == (run_dir / "report.html", run_dir / "report.md")
    text = html_path.read_text(encoding="utf-8")
    page = Page(text)
    assert page.headings["h1"] == ["kgrec run report: kgrec on five"]
    assert page.headings["h2"] == SECTION_TITLES
    assert "<section" in text and "not available" not in text.lower()
    md = md_path.read_text(encoding="utf-8")
    assert [line[3:] for line in md.splitlines() if line.startswith("## ")] == SECTION_TITLES
    # the summary: dataset, model, headline test metrics at the largest K, best epoch and timings
    summary = re.search(r'<p class="summary">(.*?)</p>', text, re.S).group(1)
    for expected in ("five", "kgrec", "NDCG@20 <strong>0.3012</strong>", "Recall@20 <strong>0.4400</strong>",
                     "Best epoch 3 of 5", "1.5 s to the best epoch", "LightGCN"):
        assert expected in summary, expected


def test_the_report_opens_with_the_explained_recommendations(run_dir: Path) -> None:
    """Right after the title and summary: the gallery's cards (sentence and picture), then the engineering tables."""
    html_path, md_path = build_report(run_dir)
    text, md = html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")
    html_order = [text.index(marker) for marker in (
        '<p class="summary">', '<section id="gallery">', "Recommended <em>Collateral</em>", 'alt="explanation subgraph',
        '<section id="dataset">', '<section id="curves">', '<section id="metrics">', '<section id="rules">',
        '<section id="explanations">',
    )]
    assert html_order == sorted(html_order)
    md_order = [md.index(marker) for marker in (
        "Run run (kgrec", "## Gallery of explained recommendations", "Recommended *Collateral*",
        "![explanation subgraph", "## Dataset", "## Training curves", "## Metrics against the compared models",
        "| kgrec | **0.3012** |", "## Top mined rules", "## Explanation quality",
    )]
    assert md_order == sorted(md_order)


def test_sections_show_the_run_files(run_dir: Path) -> None:
    text = build_report(run_dir)[0].read_text(encoding="utf-8")
    page = Page(text)
    dataset = {row[0][0]: row[1][0] for row in page.cells["dataset"] if len(row) == 2 and row[0][0]}
    assert dataset["users"] == "2" and dataset["KG triples"] == "2" and dataset["licence"] == "CC0"
    assert dataset["description"] == "Five nodes <tiny>" and dataset["URL"] == "https://example.org/five"
    assert dataset["items linked to a KG entity"] == "2 (100.0 %)" and dataset["positives"] == "every pair"
    assert "lambda_kg: 0.1" in text and "gallery_users: 1" in text  # config.yaml as a block
    assert "seed 7" in text and "2 train / 0 valid / 1 test interactions" in text  # split under the table
    # the told-rule thresholds (config defaults): same director (lift 3.5) passes, the lift-1.2 rule does not
    assert ("support ≥ 5, lift ≥ 1.5, popularity lift ≥ 1.3 and p ≤ 0.01 (1 of the 2 pattern rules, and 0 rules "
            "with a constant)") in text
    rules = page.cells["rules"]
    assert rules[1][1][0] == "same director" and rules[1][2][0] == "[directed_by, directed_by⁻¹]"
    assert rules[2][1][0] == "co-director"
    # rules built in code have no popularity lift nor p-value
    assert [c[0] for c in rules[1][3:]] == ["12", "40", "0.300", "0.0200", "3.50", "—", "—", "0.1250"]
    quality = {row[0][0]: row[1][0] for row in page.cells["explanations"] if len(row) == 2}
    assert quality["fidelity (deleting the explanation lowers the rank more than random edges)"] == "90.0 %"
    assert quality["path coverage (explained items with a path)"] == "75.0 %"
    assert quality["rule precision on test (micro)"] == "—"
    assert quality["told weight share: mean (told paths' share of the item's path weight)"] == "75.0 %"
    assert quality["told weight share: median"] == "50.0 %"
    assert quality["collaborative share (told by co-likes only: no rule path reaches the item)"] == "25.0 %"
    assert quality["fidelity, strict rank only (rank ties count as failures)"] == "60.0 %"
    assert quality["told by a rule with a constant (one named node between the items)"] == "12.5 %"
    assert quality["rules with a constant (only those better than chance are kept)"] == "7"
    assert "accuracy <strong>0.875</strong>" in text and "|--- #history items via same director &lt;= 0.50" in text


def test_rules_with_a_constant_get_their_own_table(run_dir: Path) -> None:
    names = ("interact", "directed_by", "interact⁻¹", "directed_by⁻¹")
    same = Rule((1, 3), support=12, connected=40, confidence=0.3, head_coverage=0.02, lift=3.5, popularity_lift=1.25,
                p_value=0.0004)
    mann = Rule((1, 3), support=6, connected=8, confidence=0.75, head_coverage=0.03, lift=4.0, constant=4,
                popularity_lift=2.5, p_value=0.000123)
    RuleSet((same,), n_items=2, n_coliked=2, base_rate=1.0, relation_names=names, constants=(mann,),
            constant_names={4: "Michael Mann"}).save(run_dir / "rules.json")
    text = build_report(run_dir)[0].read_text(encoding="utf-8")
    # same director: popularity lift 1.25 < 1.3, so no pattern rule is better than chance
    assert ("support ≥ 5, lift ≥ 1.5, popularity lift ≥ 1.3 and p ≤ 0.01 (0 of the 1 pattern rules, and 1 rule "
            "with a constant)") in text
    assert "Rules with a constant (both items linked to one node), the top 1 by confidence:" in text
    rows = [[cell for cell, _ in row] for row in Page(text).cells["rules"]]
    assert rows[1] == ["1", "same director", "[directed_by, directed_by⁻¹]", "12", "40", "0.300", "0.0200", "3.50",
                       "1.25", "4.0e-04"]
    assert rows[2] == ["#", "rule", "pattern", "support", "connected", "confidence", "head coverage", "lift",
                       "popularity lift", "p-value"]
    assert rows[3] == ["1", "same director", "directed_by → Michael Mann → directed_by⁻¹", "6", "8", "0.750",
                       "0.0300", "4.00", "2.50", "1.2e-04"]


def test_best_value_per_metric_column_is_bold(run_dir: Path) -> None:
    page = Page(build_report(run_dir)[0].read_text(encoding="utf-8"))
    header, *rows = page.cells["metrics"]
    columns = [c[0] for c in header]
    assert columns[:6] == ["model", "test NDCG@20", "test Recall@20", "test Precision@20", "test Hit@20", "test MRR@20"]
    assert columns[6:8] == ["best epoch", "s to best"]
    assert [r[0][0] for r in rows] == ["kgrec", "LightGCN", "Pop"]
    bold = {columns[k]: [r[0][0] for r in rows if r[k][1]] for k in range(1, 6)}
    assert bold == {
        "test NDCG@20": ["kgrec"], "test Recall@20": ["LightGCN"], "test Precision@20": ["kgrec"],
        "test Hit@20": ["kgrec", "LightGCN"], "test MRR@20": ["LightGCN"],  # a tie is bold twice
    }
    assert rows[1][2] == ("0.4511", True) and rows[2][6] == ("—", False)  # Pop has no best epoch
    assert not any(cell[1] for row in rows for cell in row[6:])  # epochs and seconds are never bold


def test_curves_are_a_real_png_of_this_run(run_dir: Path) -> None:
    html_path, _ = build_report(run_dir)
    page = Page(html_path.read_text(encoding="utf-8"))
    curves = [img for img in page.images if img["alt"] == "training curves of this run"]
    assert len(curves) == 1
    prefix = "data:image/png;base64,"
    assert curves[0]["src"].startswith(prefix)
    data = base64.b64decode(curves[0]["src"][len(prefix):])
    pixels = _png_pixels(data)
    assert pixels.shape[0] > 200 and pixels.shape[1] > 500 and float(pixels[..., :3].std()) > 0.05
    assert data == (run_dir / "report" / "curves.png").read_bytes()
    # drawn from this run's numbers: other losses give another picture
    rows = (run_dir / "history.csv").read_text(encoding="utf-8").replace("0.35,0.33", "0.85,0.83")
    (run_dir / "history.csv").write_text(rows, encoding="utf-8")
    build_report(run_dir)
    assert (run_dir / "report" / "curves.png").read_bytes() != data


def test_html_is_self_contained_and_escaped(run_dir: Path) -> None:
    text = build_report(run_dir)[0].read_text(encoding="utf-8")
    page = Page(text)
    assert not {"script", "link", "iframe", "object", "embed"} & set(page.tags)
    assert page.urls and all(u.startswith(("data:image/png;base64,", "#")) for u in page.urls), page.urls
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert "url(" not in text and "@import" not in text  # no CSS resources either
    assert "<b>&</b>" not in text and "Heat &lt;b&gt;&amp;&lt;/b&gt; &quot;Co&quot;" in text
    assert "<tiny>" not in text and "Five nodes &lt;tiny&gt;" in text
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "Heat \\<b\\>&\\</b\\> \"Co\"" in md and "<b>" not in md


def test_gallery_shows_each_recommendation_with_its_picture(run_dir: Path) -> None:
    text = build_report(run_dir)[0].read_text(encoding="utf-8")
    page = Page(text)
    assert page.headings["h3"][0] == "user u1: top 2"
    assert page.headings["h4"] == ["#1 Collateral", f"#2 {HEAT}"]
    assert "Recommended <em>Collateral</em> because it was directed by Michael Mann, like <em>Heat &lt;b&gt;" in text
    assert "(rule <code>same director</code>: lift 3.5, confidence 0.30 over 12 co-liked pairs)" in text
    assert "Popular item: <em>Heat" in text  # the fallback's sentence, without paths or rule lines
    assert "The 1 told path carries 75.0 % of the item&#x27;s path weight." in text
    told = [row for row in page.cells["gallery"] if row and row[0] == ("✓", True)]
    assert told and told[0][1][0] == f"user u1 —liked→ {HEAT} —was directed by→ Michael Mann —directed→ Collateral"
    pictures = [img for img in page.images if img["alt"].startswith("explanation subgraph")]
    assert len(pictures) == 1
    data = base64.b64decode(pictures[0]["src"].split(",", 1)[1])
    assert data == (run_dir / "gallery" / "u1-1-i2.png").read_bytes()


def test_markdown_references_existing_pngs(run_dir: Path) -> None:
    _, md_path = build_report(run_dir)
    md = md_path.read_text(encoding="utf-8")
    targets = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert targets == ["report/gallery/u1-1-i2.png", "report/curves.png"]
    for target in targets:
        assert not Path(target).is_absolute()
        assert (run_dir / target).read_bytes().startswith(PNG_SIGNATURE)
    assert "| kgrec | **0.3012** | 0.4400 |" in md
    assert f"```\nkgrec_version: {__version__}\n" in md


# ---- missing and broken files ----------------------------------------------------------------------------
def test_missing_optional_files_leave_not_available_lines(run_dir: Path) -> None:
    (run_dir / "explain_eval.json").unlink()
    (run_dir / "gallery.json").unlink()
    html_path, md_path = build_report(run_dir)
    text, md = html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")
    assert Page(text).headings["h2"] == SECTION_TITLES
    assert '<p class="na">Not available: explain_eval.json not found.</p>' in text
    assert '<p class="na">Not available: gallery.json not found.</p>' in text
    assert "_Not available: explain\\_eval.json not found._" in md
    assert "Top mined rules" in text and "same director" in text  # the other sections are unaffected
    assert re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md) == ["report/curves.png"]
    assert not (run_dir / "report" / "gallery").exists()  # the previous report's pictures are gone too


def test_an_almost_empty_run_directory_still_gives_a_report(tmp_path: Path) -> None:
    run_dir = tmp_path / "bare"
    run_dir.mkdir()
    (run_dir / "rules.json").write_text("{not json", encoding="utf-8")
    (run_dir / "comparison.json").write_text("[1, 2]", encoding="utf-8")
    (run_dir / "history.csv").write_text("epoch,loss\n", encoding="utf-8")
    html_path, md_path = build_report(run_dir)
    page = Page(html_path.read_text(encoding="utf-8"))
    assert page.headings["h2"] == SECTION_TITLES
    text = html_path.read_text(encoding="utf-8")
    for reason in ("dataset_stats.json not found", "config.yaml not found", "history.csv has no epochs",
                   "comparison.json is not a JSON object", "rules.json unreadable", "gallery.json not found"):
        assert reason in text, reason
    assert text.count('class="na"') >= 7 and "No test metrics are available." in text
    assert not page.images and "![" not in md_path.read_text(encoding="utf-8")


def test_metrics_json_alone_gives_a_one_row_table(run_dir: Path) -> None:
    (run_dir / "comparison.json").unlink()
    page = Page(build_report(run_dir)[0].read_text(encoding="utf-8"))
    header, *rows = page.cells["metrics"]
    assert [r[0][0] for r in rows] == ["kgrec"]
    assert [c[0] for c in header[1:3]] == ["test NDCG@20", "test Recall@20"] and rows[0][1] == ("0.3012", False)


# ---- atomicity -------------------------------------------------------------------------------------------
def _boom(*args: object, **kwargs: object) -> bytes:
    raise RuntimeError("plot failed")


def test_a_failing_plot_leaves_no_report(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kgrec.report.plots, "curves_png", _boom)
    with pytest.raises(RuntimeError, match="plot failed"):
        build_report(run_dir)
    assert not (run_dir / "report.html").exists() and not (run_dir / "report.md").exists()
    assert not (run_dir / "report").exists()
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_a_failing_plot_keeps_the_previous_report(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    html_path, md_path = build_report(run_dir)
    before = {p: p.read_bytes() for p in (html_path, md_path, run_dir / "report" / "curves.png")}
    (run_dir / "explain_eval.json").unlink()  # the next report would differ
    monkeypatch.setattr(kgrec.report.plots, "curves_png", _boom)
    with pytest.raises(RuntimeError):
        build_report(run_dir)
    assert {p: p.read_bytes() for p in before} == before
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(".")]


def test_not_a_directory_is_a_config_error(tmp_path: Path) -> None:
    from kgrec.errors import ConfigError

    with pytest.raises(ConfigError, match="not a run directory"):
        build_report(tmp_path / "missing")


def test_method_comparison_gets_a_table_and_a_chart(run_dir: Path) -> None:
    report = json.loads((run_dir / "explain_eval.json").read_text(encoding="utf-8"))
    row = {"cases": 30, "fidelity": 0.9, "mean_rank_drop": 1.5, "sufficiency": 0.8, "edges_90": 3.0,
           "jaccard_rules": 1.0, "ms_per_explanation": 2.0, "etd": 0.25, "sed": float("nan")}
    report["methods"] = {"users": 3, "slow_users": 1, "k": 10,
                         "methods": {"rules": row, "random": {**row, "fidelity": 0.5, "edges_90": 400.0}}}
    (run_dir / "explain_eval.json").write_text(json.dumps(report), encoding="utf-8")
    text = build_report(run_dir)[0].read_text(encoding="utf-8")
    page = Page(text)
    table = {row[0][0]: [cell[0] for cell in row[1:]] for row in page.cells["explanations"] if len(row) == 10}
    assert table["rules"] == ["30", "90.0 %", "1.500", "0.800", "3.000", "1.000", "2.000", "0.250", "—"]
    assert table["random"][1] == "50.0 %" and table["random"][4] == "400.000"
    assert "Every method on one scale" in text and 'alt="explanation methods: fidelity against sparsity"' in text
    assert (run_dir / "report" / "methods.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
