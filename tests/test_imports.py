"""kgrec's module layers, read from its imports with ``ast``: no cycles, nothing imports upwards, and
function-local imports of kgrec only where an allow-list says why (a heavy or optional dependency).

Layers, lowest first: ground (errors, atomic, version, plotting, fields) → data → config → models /
evaluation → training / explain → the run object (Recommender, run directories) → pipeline / report / serve →
api / cli. A module may import its own layer or lower ones; no two modules may import each other, not even
within a layer. ``if TYPE_CHECKING:`` blocks are not imports at run time and are left out.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kgrec"

#: Module (or package) name -> layer; the longest matching prefix decides.
LAYERS: dict[str, int] = {
    "kgrec.errors": 0,
    "kgrec.atomic": 0,
    "kgrec.version": 0,
    "kgrec.plotting": 0,
    "kgrec.fields": 0,
    "kgrec.net": 0,
    "kgrec.data": 1,
    "kgrec.config": 2,
    "kgrec.models": 3,
    "kgrec.evaluation": 3,
    "kgrec.training": 4,
    "kgrec.explain": 4,
    "kgrec.run": 5,
    "kgrec.recommender": 5,
    "kgrec.pipeline": 6,
    "kgrec.report": 6,
    "kgrec.serve": 6,
    "kgrec.api": 7,
    "kgrec.cli": 7,
    "kgrec.__main__": 7,
    "kgrec": 7,  # the package root re-exports the public names of every layer
}

#: The function-local imports of kgrec modules that are allowed: (importer, imported) -> why, in one word.
#: "torch": the importer stays importable without torch (``import kgrec``, the ``kgrec`` command's start and
#: its error messages); "matplotlib" likewise; "sklearn": only one evaluation protocol needs scikit-learn.
LOCAL_IMPORTS: dict[tuple[str, str], str] = {
    ("kgrec", "kgrec.data.graph"): "torch",
    ("kgrec", "kgrec.recommender"): "torch",
    ("kgrec", "kgrec.api"): "torch",
    ("kgrec", "kgrec.pipeline"): "torch",
    ("kgrec.data", "kgrec.data.graph"): "torch",
    ("kgrec.run.fit", "kgrec.evaluation.ctr"): "sklearn",
    ("kgrec.cli.explain", "kgrec.recommender"): "torch",
    ("kgrec.cli.explain", "kgrec.explain.render"): "torch",
    ("kgrec.cli.explain", "kgrec.explain.compare"): "torch",
    ("kgrec.cli.explain", "kgrec.explain.evaluate"): "torch",
    ("kgrec.cli.explain", "kgrec.run.export"): "torch",
    ("kgrec.cli.explain", "kgrec.report"): "matplotlib",
    ("kgrec.cli.inspect", "kgrec.explain.association"): "torch",
    ("kgrec.cli.inspect", "kgrec.report"): "matplotlib",
    ("kgrec.cli.kge", "kgrec.data.triples"): "torch",
    ("kgrec.cli.kge", "kgrec.training.kge"): "torch",
    ("kgrec.cli.kge", "kgrec.evaluation.linkpred"): "torch",
    ("kgrec.cli.pipeline", "kgrec.pipeline"): "torch",
    ("kgrec.cli.train", "kgrec.run.fit"): "torch",
    ("kgrec.cli.serve", "kgrec.recommender"): "torch",
    ("kgrec.cli.serve", "kgrec.serve.app"): "fastapi",
    ("kgrec.cli.serve", "kgrec.serve.workers"): "uvicorn",
}


@dataclass(frozen=True)
class Import:
    """One import of a kgrec module by another: where it is and whether it sits inside a function."""

    importer: str
    imported: str
    line: int
    local: bool


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _targets(node: ast.AST, importer: str, is_package: bool, modules: set[str]) -> list[str]:
    """The kgrec modules an import statement loads (``from a import b`` is module ``a.b`` when that exists)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: resolved against the importer's package
            package = importer.split(".") if is_package else importer.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, *([base] if base else [])])
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    else:
        return []
    found = []
    for name in names:
        while name and name not in modules:  # kgrec.data.graph.CollaborativeKG -> kgrec.data.graph
            name = name.rpartition(".")[0]
        if name and name != importer:
            found.append(name)
    return found


def read_imports(root: Path = PACKAGE) -> tuple[set[str], list[Import]]:
    """Every module under ``root`` and every import of one of them by another, module-level or local."""
    files = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    modules = set(files)
    imports: list[Import] = []
    for importer, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"

        def visit(node: ast.AST, local: bool) -> None:
            for child in ast.iter_child_nodes(node):
                if _is_type_checking(child):
                    for stmt in child.orelse:  # the else branch does run
                        visit_stmt(stmt, local)
                    continue
                visit_stmt(child, local)

        def visit_stmt(node: ast.AST, local: bool) -> None:
            for target in _targets(node, importer, is_package, modules):
                imports.append(Import(importer, target, node.lineno, local))
            visit(node, local or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

        visit(tree, False)
    return modules, imports


def layer(module: str) -> int:
    prefix = module
    while prefix not in LAYERS:
        if "." not in prefix:
            raise KeyError(f"{module} has no layer: add it (or its package) to LAYERS in tests/test_imports.py")
        prefix = prefix.rpartition(".")[0]
    return LAYERS[prefix]


def cycles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or around a loop."""
    graph = nx.DiGraph(edges)
    return sorted(sorted(group) for group in nx.strongly_connected_components(graph) if len(group) > 1)


def upward(imports: Iterable[Import], layer_of=layer) -> list[str]:
    """The imports of a module from a higher layer than its own."""
    return [f"{i.importer} (layer {layer_of(i.importer)}) imports {i.imported} (layer {layer_of(i.imported)}), line {i.line}"
            for i in imports if layer_of(i.imported) > layer_of(i.importer)]


def unlisted_local(imports: Iterable[Import], allowed: dict[tuple[str, str], str] = LOCAL_IMPORTS) -> list[str]:
    return [f"{i.importer} line {i.line}: function-local import of {i.imported}" for i in imports
            if i.local and (i.importer, i.imported) not in allowed]


MODULES, IMPORTS = read_imports()


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer(module)


def test_no_module_imports_another_that_imports_it_back() -> None:
    assert cycles((i.importer, i.imported) for i in IMPORTS) == []


def test_no_module_imports_a_higher_layer() -> None:
    assert upward(IMPORTS) == []


def test_function_local_imports_of_kgrec_are_the_allowed_ones() -> None:
    assert unlisted_local(IMPORTS) == []


def test_the_allow_list_has_no_stale_entries_and_one_word_reasons() -> None:
    present = {(i.importer, i.imported) for i in IMPORTS if i.local}
    assert sorted(set(LOCAL_IMPORTS) - present) == []
    assert all(reason.isalpha() for reason in LOCAL_IMPORTS.values())


def test_the_command_starts_without_torch_or_matplotlib() -> None:
    """What the allow-list buys: ``kgrec data ...`` and the one-line errors never wait for torch."""
    code = "import sys, kgrec.cli; print(sorted(m for m in ('torch', 'torch_geometric', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---- the checks can fail ----------------------------------------------------------------------------------
def _tiny_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "kgrec"
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_a_cycle_and_an_upward_import_are_found(tmp_path: Path) -> None:
    root = _tiny_package(tmp_path, {
        "config.py": "from kgrec.data.load import x\n",
        "data/__init__.py": "",
        "data/load.py": "from kgrec import config\n\ndef f():\n    from kgrec.errors import E\n",  # data (1) imports config (2)
        "errors.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from kgrec.config import C\n",
    })
    modules, imports = read_imports(root)
    assert modules == {"kgrec", "kgrec.config", "kgrec.data", "kgrec.data.load", "kgrec.errors"}
    assert cycles((i.importer, i.imported) for i in imports) == [["kgrec.config", "kgrec.data.load"]]
    assert upward(imports) == ["kgrec.data.load (layer 1) imports kgrec.config (layer 2), line 1"]
    assert unlisted_local(imports) == ["kgrec.data.load line 4: function-local import of kgrec.errors"]
    assert not any(i.importer == "kgrec.errors" for i in imports)  # TYPE_CHECKING imports are left out


def test_relative_and_plain_imports_are_read(tmp_path: Path) -> None:
    root = _tiny_package(tmp_path, {
        "data/__init__.py": "from . import graph\n",
        "data/graph.py": "import kgrec.errors\nfrom ..config import C\n",
        "errors.py": "",
        "config.py": "",
    })
    _, imports = read_imports(root)
    assert {(i.importer, i.imported) for i in imports} == {
        ("kgrec.data", "kgrec.data.graph"), ("kgrec.data.graph", "kgrec.errors"), ("kgrec.data.graph", "kgrec.config"),
    }


@pytest.mark.parametrize("module, expected", [("kgrec.data.formats.tsv", 1), ("kgrec.config", 2), ("kgrec.cli", 7), ("kgrec.run.files", 5)])
def test_layers_come_from_the_longest_prefix(module: str, expected: int) -> None:
    assert layer(module) == expected
