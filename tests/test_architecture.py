"""docs/ARCHITECTURE.md is the module map, and this test keeps it true.

Checked (the way CausalPy checks its own map): every module of the package is listed in the
map and every listed module exists; each module imports only from its own layer or the
layers below it (module-level and function-local imports alike); no module imports another
module's private (underscore) name or reaches into one through an attribute; the package has
no import cycle at module level.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "bayes_ab"
DOC = ROOT / "docs" / "ARCHITECTURE.md"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _doc_layers() -> list[tuple[int, list[str]]]:
    """The layer table of the map: `| rank | layer | packages and modules |` rows."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- layers -->")[1].split("<!-- /layers -->")[0]
    rows = []
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].isdigit():
            names = re.findall(r"`(bayes_ab(?:\.[\w]+)*)`", cells[2])
            rows.append((int(cells[0]), names))
    return rows


def _doc_modules() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- modules -->")[1].split("<!-- /modules -->")[0]
    return set(re.findall(r"^\|\s*`(bayes_ab(?:\.\w+)*)`", block, flags=re.M))


def _layer_of(module: str, layers) -> int:
    best, best_len = None, -1
    for rank, names in layers:
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best_len:
                best, best_len = rank, len(name)
    if best is None or (best_len == len("bayes_ab") and module != "bayes_ab"):
        raise AssertionError(f"{module} is in no layer of docs/ARCHITECTURE.md")
    return best


def _imports(path: Path, module: str):
    """(line, imported module, imported names, top-level?) for every bayes_ab import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(id(n) for n in tree.body)
    # statements under a module-level `if`/`try` still run at import time
    for n in tree.body:
        if isinstance(n, (ast.If, ast.Try)):
            top.update(id(m) for m in ast.walk(n))
    is_pkg = path.name == "__init__.py"
    typing_only = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
            typing_only.update(id(m) for stmt in n.body for m in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue  # annotations only: no import at run time
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "bayes_ab":
                    yield node.lineno, a.name, [], id(node) in top
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "bayes_ab":
                continue
            names = [a.name for a in node.names]
            # `from bayes_ab.pkg import submodule` imports the submodule
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
            yield node.lineno, target, [n for n in names if f"{target}.{n}" not in MODULES], \
                id(node) in top
            for s in subs:
                yield node.lineno, s, [], id(node) in top


def test_map_lists_every_module():
    listed = _doc_modules()
    actual = set(MODULES)
    assert not actual - listed, f"modules missing from docs/ARCHITECTURE.md: {sorted(actual - listed)}"
    assert not listed - actual, f"docs/ARCHITECTURE.md lists modules that do not exist: {sorted(listed - actual)}"


def test_layers_import_only_downwards():
    layers = _doc_layers()
    assert layers, "no layer table in docs/ARCHITECTURE.md"
    bad = []
    for module, path in MODULES.items():
        if module == "bayes_ab":
            continue  # the package root: its lazy `bayes_ab.analyze` / `compare` are the API door
        mine = _layer_of(module, layers)
        for line, target, _, _ in _imports(path, module):
            if target == "bayes_ab" or target not in MODULES:
                target_mod = target if target in MODULES else target.rsplit(".", 1)[0]
            else:
                target_mod = target
            if target_mod == "bayes_ab":
                continue  # the package root: version and public errors
            theirs = _layer_of(target_mod, layers)
            if theirs > mine:
                bad.append(f"{path.relative_to(ROOT)}:{line} {module} (layer {mine}) imports "
                           f"{target_mod} (layer {theirs})")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_no_private_names_across_modules():
    bad = []
    for module, path in MODULES.items():
        for line, target, names, _ in _imports(path, module):
            for n in names:
                if n.startswith("_") and not n.startswith("__") and target != module:
                    bad.append(f"{path.relative_to(ROOT)}:{line} imports {target}.{n}")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bayes_ab"):
                for a in node.names:
                    if f"{node.module}.{a.name}" in MODULES:
                        aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("bayes_ab") and a.asname:
                        aliases[a.asname] = a.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} uses "
                           f"{aliases[node.value.id]}.{node.attr}")
    assert not bad, "private names used across modules:\n" + "\n".join(bad)


def test_no_import_cycle_at_module_level():
    graph = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for _, target, _, top in _imports(path, module):
            if not top:
                continue
            t = target if target in MODULES else target.rsplit(".", 1)[0]
            if t in MODULES and t != module:
                graph[module].add(t)
    # a package's __init__ importing its own submodules (re-exports) is not a cycle of design
    for m in graph:
        graph[m] = {t for t in graph[m] if not (t.startswith(m + ".") )}
    index, low, stack, on, sccs = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in graph:
        if v not in index:
            strong(v)
    # a submodule importing a name its package re-exports is a cycle only through __init__
    assert not sccs, f"import cycles: {sccs}"


@pytest.mark.parametrize("folder", sorted({m.split(".")[1] for m in MODULES if m.count(".") >= 1
                                           and (PKG / m.split(".")[1]).is_dir()}))
def test_each_folder_is_described(folder):
    text = DOC.read_text(encoding="utf-8")
    assert f"`bayes_ab.{folder}`" in text
