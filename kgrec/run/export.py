"""Every user's top-k, explained or not, in one job (``kgrec recommend RUN --all-users -k K --out FILE``):
streamed, resumable, computed by worker processes.

The output has one line per user of the dataset, in user-id order: the document ``kgrec recommend RUN --user U
-k K [--explain] --format json`` prints for that user, on one line (equal once parsed). Lines are appended to
``FILE.partial`` as they are computed, next to ``FILE.partial.json``, which describes the job (run, k,
explain, number of users); the finished file is renamed to ``FILE``, so ``FILE`` is never half-written. Run
again after an interruption, the job keeps every complete line of the partial file (a cut last line is
dropped) and computes only the users after them; the partial file of another job is refused. A ``.parquet``
FILE (needs pyarrow) is written from the finished lines: one row per recommendation.

Workers are forks of the process that loaded the run (one torch thread each), so the run is loaded once;
where processes cannot fork, the job runs in one process.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import torch
from tqdm.auto import tqdm

from kgrec.atomic import atomic_path, atomic_write_text, json_bytes
from kgrec.errors import ConfigError
from kgrec.explain.render import recommendations_document
from kgrec.recommender import Recommender, freeze_loaded_objects

#: Users per task handed to a worker (and per write).
CHUNK = 32
SUFFIXES = (".jsonl", ".parquet")


@dataclass(frozen=True)
class ExportJob:
    """What a partial file was started for; a resumed job must be the same."""

    run: str
    k: int
    explain: bool
    users: int


@dataclass(frozen=True)
class ExportSummary:
    """An export's output file, its users, how many of them an earlier, interrupted job had written, and
    the seconds this job took."""

    out: Path
    users: int
    resumed: int
    seconds: float


def partial_paths(out: Path) -> tuple[Path, Path]:
    """The partial lines and the job description of an export to ``out``."""
    return out.with_name(out.name + ".partial"), out.with_name(out.name + ".partial.json")


def check_output(out: Path) -> None:
    """ConfigError for an output name kgrec cannot write (suffix) or a Parquet file without pyarrow."""
    if out.suffix not in SUFFIXES:
        raise ConfigError(f"--out {out}: expected a file name ending in {' or '.join(SUFFIXES)}")
    if out.suffix == ".parquet" and find_spec("pyarrow") is None:
        raise ConfigError(f"--out {out}: writing Parquet needs pyarrow (pip install pyarrow), or use .jsonl")


def export_all(rec: Recommender, out: Path, k: int, explain: bool, workers: int = 1, meta_run: str | None = None,
               progress: bool = True) -> ExportSummary:
    """Write every user's top-``k`` to ``out`` (see the module docstring); ``meta_run`` is the run as the
    documents name it (``meta.run``; default the run directory)."""
    check_output(out)
    started = time.perf_counter()
    run = meta_run if meta_run is not None else str(rec.run_dir)
    job = ExportJob(run, int(k), bool(explain), rec.dataset.n_users)
    lines, described = partial_paths(out)
    done = _resume(lines, described, job)
    users = np.arange(done, job.users)
    chunks = [users[i : i + CHUNK].tolist() for i in range(0, len(users), CHUNK)]
    with lines.open("ab") as sink, tqdm(total=job.users, initial=done, unit="user", desc="recommend",
                                        disable=not progress) as bar:
        for block, count in _computed(rec, chunks, job, workers):
            sink.write(block)
            sink.flush()
            bar.update(count)
        os.fsync(sink.fileno())
    if out.suffix == ".parquet":
        _write_parquet(lines, out)
        lines.unlink()
    else:
        os.replace(lines, out)
    described.unlink()
    return ExportSummary(out, job.users, done, time.perf_counter() - started)


def _resume(lines: Path, described: Path, job: ExportJob) -> int:
    """Users already written by an interrupted job of the same description (0 for a new job); a cut last
    line is dropped from the partial file."""
    if not lines.exists():
        atomic_write_text(described, json.dumps(asdict(job)) + "\n")
        lines.write_bytes(b"")
        return 0
    try:
        earlier = ExportJob(**json.loads(described.read_text()))
    except (OSError, ValueError, TypeError) as error:
        raise ConfigError(f"{lines}: an interrupted export without a readable {described.name} ({error}); "
                          "remove both to start again") from None
    if earlier != job:
        raise ConfigError(f"{lines}: an interrupted export of another job ({_job_text(earlier)}, not "
                          f"{_job_text(job)}); remove it and {described.name} to start again")
    content = lines.read_bytes()
    complete = content.rfind(b"\n") + 1
    if complete < len(content):
        with lines.open("r+b") as file:
            file.truncate(complete)
    return content.count(b"\n", 0, complete)


def _job_text(job: ExportJob) -> str:
    return f"run {job.run}, k={job.k}, explain={job.explain}, {job.users} users"


# ---- computing ---------------------------------------------------------------------------------------------
_WORKER: tuple[Recommender, ExportJob] | None = None  # the loaded run, inherited by forked workers


def _computed(rec: Recommender, chunks: Sequence[list[int]], job: ExportJob, workers: int) -> Iterator[tuple[bytes, int]]:
    """The JSON lines of every chunk of users, in order, with the chunk's size."""
    global _WORKER
    _WORKER = (rec, job)
    freeze_loaded_objects()  # the loaded run outlives the job: the collector skips it, forked workers share it
    try:
        if workers <= 1 or len(chunks) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
            for chunk in chunks:
                yield _lines(chunk), len(chunk)
            return
        with multiprocessing.get_context("fork").Pool(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
            for chunk, block in zip(chunks, pool.imap(_lines, chunks)):
                yield block, len(chunk)
    finally:
        _WORKER = None
        gc.unfreeze()


def _lines(users: list[int]) -> bytes:
    """One JSON line per user: the document of ``kgrec recommend --format json``, scored user by user as
    that command scores (a batch of users rounds scores differently in the last float bits)."""
    assert _WORKER is not None
    rec, job = _WORKER
    out = []
    for user in users:
        explanations = rec.recommend(user, job.k, explain=job.explain)
        document = recommendations_document(user, explanations, rec.graph, rec.phrases, {"run": job.run})
        out.append(json_bytes(document) + b"\n")
    return b"".join(out)


# ---- Parquet -----------------------------------------------------------------------------------------------
def recommendation_rows(documents: Iterator[dict]) -> pd.DataFrame:
    """One row per recommendation of the documents: user, rank, item, its name, score, sentence, reason,
    told weight share and the explanation's JSON (``None`` fields where the list is not explained)."""
    rows = []
    for document in documents:
        for values in document["recommendations"]:
            rows.append({
                "user": document["user"]["raw"], "rank": values["rank"], "item": values["item_raw"],
                "item_name": values["item_name"], "score": values["score"], "sentence": values["sentence"],
                "reason": values["reason"], "told_weight_share": values["told_weight_share"],
                "explanation": json_bytes(values).decode(),
            })
    return pd.DataFrame(rows)


def _write_parquet(lines: Path, out: Path) -> None:
    with lines.open("rb") as source:
        table = recommendation_rows(orjson.loads(line) for line in source)
    with atomic_path(out) as temporary:
        table.to_parquet(temporary, index=False)
