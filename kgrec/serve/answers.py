"""Precomputed answers for ``kgrec serve RUN --answers FILE``: every user's top-k document as an all-users
export wrote it (``kgrec recommend RUN --all-users -k K [--explain] --out FILE.jsonl``), answered as stored.

An explained top-10 costs milliseconds of CPU; a stored one is a lookup. The file answers exactly the requests
it holds — the same k and the same ``explain`` — and any other request is computed as without it. Before the
service listens, the stored documents of the first, middle and last user are compared with the ones the
loaded run computes, so a file of another run, of a retrained model or of another k is refused with one line
instead of serving stale lists.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from kgrec.atomic import json_bytes
from kgrec.errors import ConfigError

#: A loaded run's document of one user: (user id, k, explain) → the recommendations document.
Compute = Callable[[int, int, bool], dict[str, Any]]


class StoredAnswers:
    """One JSON line per user (in user-id order), with the ``k`` and ``explain`` they were computed with."""

    def __init__(self, path: Path, lines: list[bytes], k: int, explain: bool) -> None:
        self.path, self.lines, self.k, self.explain = path, lines, k, explain

    @classmethod
    def load(cls, path: str | Path, n_users: int, compute: Compute, run: str) -> StoredAnswers:
        """Read ``path``, check it against the run (see the module docstring) and stamp every document's
        ``meta.run`` with ``run``, as the service names the run; ConfigError naming the file otherwise."""
        path = Path(path)
        try:
            content = path.read_bytes()
        except OSError as error:
            raise ConfigError(f"--answers {path}: {error.strerror or error}") from None
        lines = content.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        if len(lines) != n_users:
            raise ConfigError(f"--answers {path}: {len(lines)} lines, but the run has {n_users} users; "
                              "expected the output of `kgrec recommend RUN --all-users --out FILE.jsonl`")
        documents = {user: _document(path, lines, user) for user in sorted({0, n_users // 2, n_users - 1})}
        k = len(documents[0]["recommendations"])
        explain = next((flag for flag in (True, False) if _same(documents, compute, k, flag)), None)
        if k == 0 or explain is None:
            raise ConfigError(f"--answers {path}: the stored lists of users {sorted(documents)} are not the ones "
                              f"this run computes (k={k}, with or without --explain); export them again from this run")
        stamped = {"run": run}
        if documents[0].get("meta") != stamped:
            lines = [json_bytes({**orjson.loads(line), "meta": stamped}) for line in lines]
        return cls(path, lines, k, explain)

    def get(self, user: int, k: int, explain: bool) -> bytes | None:
        """The stored document of ``user`` if the file holds this request, else None."""
        return self.lines[user] if k == self.k and explain == self.explain else None


def _document(path: Path, lines: list[bytes], user: int) -> dict[str, Any]:
    try:
        document = orjson.loads(lines[user])
    except orjson.JSONDecodeError as error:
        raise ConfigError(f"--answers {path}: line {user + 1} is not JSON ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("recommendations"), list):
        raise ConfigError(f"--answers {path}: line {user + 1} is not a recommendations document")
    return document


def _same(documents: dict[int, dict[str, Any]], compute: Compute, k: int, explain: bool) -> bool:
    """Whether every stored document equals the run's own one for (k, explain) once both are JSON, ``meta``
    aside."""
    return all(
        {**stored, "meta": None} == {**orjson.loads(json_bytes(compute(user, k, explain))), "meta": None}
        for user, stored in documents.items()
    )
