"""prepare → train → compare → explain → report, from one config, into one run directory.

Layout of a pipeline run directory (``report.html`` reads it): the main model's run files (``config.yaml``,
``dataset.json``, ``dataset_stats.json``, ``split/``, ``model.pt``, ``last.pt``, ``history.csv``,
``curves.png``, ``metrics.json``, ``rules.json``), ``compare/<variant>/`` (one run directory per compared
model, trained on the main run's split), ``comparison.json``, ``explain_eval.json``, ``gallery.json`` with
``gallery/*.png``, and ``report.html`` / ``report.md``. Every step that finished is skipped on ``resume``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgrec.atomic import atomic_write_json
from kgrec.config import RunConfig, load_pipeline_config, with_overrides
from kgrec.data.dataset import RecDataset
from kgrec.errors import ConfigError
from kgrec.explain.association import analyse, write_association
from kgrec.explain.context import sample_users
from kgrec.explain.evaluate import explain_eval
from kgrec.explain.render import draw_subgraph, explanation_subgraph, recommendations_document
from kgrec.explain.types import INSPECT_DIR, KINDS
from kgrec.recommender import Recommender
from kgrec.report import build_report
from kgrec.report.rundir import COMPARISON, EXPLAIN_EVAL, GALLERY, GALLERY_DIR, STATS, gallery_picture_name
from kgrec.run.fit import fit_run

log = logging.getLogger(__name__)

#: The baselines train with the literature's BPR (one uniform negative per positive) whatever loss and
#: negative sampling the main config chose: they stand for the peers. ``pipeline.baseline_set`` adds
#: overrides of their own (say, the λ₂ they were tuned at when the main objective needs another).
PLAIN_BPR = ("train.loss=bpr", "train.negatives=1")

#: Compared models and ablations: name (one of :data:`kgrec.config.VARIANT_NAMES`) -> (display name, overrides
#: of the main config).
VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pop": ("Pop", ("model.model=pop", *PLAIN_BPR)),
    "bprmf": ("BPR-MF", ("model.model=bprmf", *PLAIN_BPR)),
    "lightgcn": ("LightGCN", ("model.model=lightgcn", *PLAIN_BPR)),
    "no_kg": ("kgrec (no KG: pure CF)", ("model.use_kg=false",)),
    "attention": ("kgrec (with TransH attention)", ("model.attention=true",)),
    "no_attention": ("kgrec (uniform weights)", ("model.attention=false",)),
    "transe": ("kgrec (TransE instead of TransH)", ("model.kge=transe",)),
    "no_kg_loss": ("kgrec (lambda_kg = 0)", ("model.lambda_kg=0",)),
}


@dataclass(frozen=True)
class PipelineResult:
    """What a pipeline run produced: its directory, the main model's metrics, the comparison rows and the
    report paths (None when ``pipeline.report`` is off)."""

    run_dir: Path
    metrics: dict[str, Any]
    comparison: list[dict[str, Any]]
    explain_eval: dict[str, Any] | None
    report: tuple[Path, Path] | None


def is_baseline(name: str) -> bool:
    """Whether variant ``name`` is another model (a baseline), not an ablation of kgrec."""
    return VARIANTS[name][1][0].startswith("model.model=")


def variant_overrides(config: RunConfig, name: str) -> list[str]:
    """The ``section.key=value`` overrides that turn the main config into variant ``name``: the variant's
    own, then ``pipeline.baseline_set`` for a baseline (which propagates over the full graph: neighbour
    sampling is kgrec's)."""
    if not is_baseline(name):
        return list(VARIANTS[name][1])
    full = ["train.sampling=full"] if config.train.sampling != "full" else []
    return [*VARIANTS[name][1], *full, *(config.pipeline.baseline_set or ())]


def model_label(model: str) -> str:
    """The comparison table's name of a main run's model: a baseline's display name (its variant is named by
    the model), or "kgrec"."""
    return VARIANTS[model][0] if model in VARIANTS and is_baseline(model) else "kgrec"


def variant_config(config: RunConfig, name: str, split_dir: Path) -> RunConfig:
    """The main config with a variant's overrides, on the main run's saved split."""
    config = with_overrides(config, variant_overrides(config, name))
    split = dataclasses.replace(config.split, scheme="predefined", split_dir=str(split_dir))
    return dataclasses.replace(config, split=split)


def comparison_row(name: str, model: str, metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "model": model,
        "test": metrics["test"],
        "best_epoch": metrics.get("best_epoch"),
        "seconds_to_best": metrics.get("seconds_to_best"),
        "seconds_per_epoch": metrics.get("seconds_per_epoch"),
        "eval_seconds": metrics.get("eval_seconds"),
        "peak_rss_mb": metrics.get("peak_rss_mb"),
    }


def train_step(config: RunConfig, run_dir: Path, resume: bool, progress: bool, dataset: RecDataset | None = None) -> dict[str, Any]:
    """Train (or finish training) one run directory; a finished one is read back, not retrained.
    ``dataset``: the already loaded dataset, so compared runs do not parse the files again."""
    finished = run_dir / "metrics.json"
    if resume and finished.exists():
        return json.loads(finished.read_text(encoding="utf-8"))
    return fit_run(config, run_dir, resume and (run_dir / "last.pt").exists(), progress, dataset).metrics


def run_pipeline(
    config: RunConfig | str | Path,
    run_dir: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    resume: bool = False,
    progress: bool = True,
) -> PipelineResult:
    """Run the whole pipeline into ``run_dir`` (or continue it with ``resume=True``).

    >>> result = kgrec.run_pipeline("pipelines/moviekg-omdb.yaml", "runs/movies", ["train.epochs=5"])
    >>> result.report[0]        # runs/movies/report.html
    """
    run_dir = Path(run_dir)
    if not isinstance(config, RunConfig):
        config = load_pipeline_config(config, overrides)
    elif overrides:
        config = with_overrides(config, list(overrides))
    variants = []  # PipelineConfig checked the names; build each variant's config before hours of training
    for name in config.pipeline.compare:  # (pipeline.baseline_set's overrides may still be refused)
        try:
            variants.append((name, variant_config(config, name, run_dir / "split")))
        except ConfigError as error:
            raise ConfigError(f"pipeline.compare: variant {name!r}: {error}") from None
    metrics = train_step(config, run_dir, resume, progress)
    rec = Recommender.load(run_dir)
    atomic_write_json(run_dir / STATS, {**rec.dataset.stats().to_dict(), "info": dict(rec.dataset.info)})
    rows = [comparison_row(model_label(config.model.model), config.model.model, metrics)]
    for name, variant in variants:
        log.info("training %s", VARIANTS[name][0])
        variant_metrics = train_step(variant, run_dir / "compare" / name, resume, progress, rec.dataset)
        rows.append(comparison_row(VARIANTS[name][0], variant.model.model, variant_metrics))
    atomic_write_json(run_dir / COMPARISON, {"rows": rows})

    report_eval = explain_step(rec, config, run_dir, progress)
    if config.pipeline.inspect and report_eval is not None:
        log.info("relation and entity analysis")
        write_association(analyse(rec.context, KINDS, config.pipeline.explain_users, config.explain.eval_k, progress=progress), run_dir / INSPECT_DIR)
    report = None
    if config.pipeline.report:
        report = build_report(run_dir)
    return PipelineResult(run_dir, metrics, rows, report_eval, report)


def explain_step(rec: Recommender, config: RunConfig, run_dir: Path, progress: bool) -> dict[str, Any] | None:
    """explain_eval.json and the gallery (``gallery.json`` + subgraph pictures) of a graph model's run."""
    if rec.model.propagation_edges() is None:
        log.info("model %s has no graph: no explanation evaluation", config.model.model)
        return None
    report = explain_eval(rec.context, config.pipeline.explain_users, config.explain.eval_k, progress=progress)
    atomic_write_json(run_dir / EXPLAIN_EVAL, report)
    documents = []
    gallery = run_dir / GALLERY_DIR
    gallery.mkdir(exist_ok=True)
    for user in sample_users(rec.context, config.pipeline.gallery_users, config.train.seed + 1):
        explanations = rec.recommend(int(user), config.pipeline.gallery_k, explain=True)
        documents.append(recommendations_document(int(user), explanations, rec.graph, rec.phrases, {"run": str(run_dir)}))
        raw_user = rec.dataset.users.raw(int(user))
        for e in explanations:
            if e.paths:
                png = gallery / gallery_picture_name(raw_user, e.rank, rec.dataset.items.raw(e.item))
                draw_subgraph(explanation_subgraph(e, rec.graph, rec.phrases), png)
    atomic_write_json(run_dir / GALLERY, {"users": documents})
    return report
