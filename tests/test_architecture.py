"""Dependencies point one way: build -> run -> Trace -> views.

The import graph is read from the modules' source (every ``import``, at the top or inside a
function), so a lazy import that closes a cycle counts too.
"""

import ast
from pathlib import Path

import mqlab

PACKAGE = Path(mqlab.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
# what draws, animates or charts a run: it reads a Trace, never the builder or the simulator
VIEWS = {"draw", "style", "state", "scene", "player", "charts", "explorer", "export"}
BUILD_AND_RUN = {"network", "simulation", "logs", "engine"}


def imports(module: str) -> dict[str, set[str]]:
    """The mqlab modules ``module`` imports, each with the names it takes from them."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: dict[str, set[str]] = {}
    aliases: dict[str, str] = {}  # a local name -> the mqlab module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "mqlab":  # from mqlab import dist, metrics
                for a in node.names:
                    if a.name in MODULES:
                        found.setdefault(a.name, set())
                        aliases[a.asname or a.name] = a.name
            elif node.module.startswith("mqlab."):
                target = node.module.split(".")[1]
                found.setdefault(target, set()).update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("mqlab."):
                    target = a.name.split(".")[1]
                    found.setdefault(target, set())
                    aliases[a.asname or a.name] = target
    for node in ast.walk(tree):  # module._name used through a module imported above
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases):
            found[aliases[node.value.id]].add(node.attr)
    found.pop(module, None)
    return found


GRAPH = {m: imports(m) for m in MODULES}


def test_the_graph_covers_the_package():
    assert {"network", "simulation", "trace", "state", "scene", "player"} <= set(GRAPH)
    assert "trace" in GRAPH["state"] and "state" in GRAPH["scene"]  # the reader sees imports


def test_no_import_cycle():
    seen: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(m: str, path: list[str]) -> None:
        seen[m] = 1
        for target in GRAPH.get(m, {}):
            if seen.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if target not in seen:
                visit(target, path + [target])
        seen[m] = 2

    for m in MODULES:
        if m not in seen:
            visit(m, [m])


def test_views_read_only_the_trace():
    for view in VIEWS:
        reached = BUILD_AND_RUN & set(GRAPH[view])
        assert not reached, f"mqlab.{view} imports {sorted(reached)}"


def test_no_module_takes_another_modules_private_names():
    taken = [f"mqlab.{m} takes {target}.{name}" for m, targets in GRAPH.items()
             for target, names in targets.items() for name in names
             if name.startswith("_") and not name.startswith("__")]
    assert taken == []


def test_the_core_does_not_load_pictures_or_widgets():
    core = {"message", "queues", "routing", "engine", "dist", "network", "simulation", "trace",
            "metrics", "theory", "run", "state"}
    for m in core:
        source = (PACKAGE / f"{m}.py").read_text()
        top = [n for n in ast.parse(source).body if isinstance(n, ast.Import | ast.ImportFrom)]
        names = {a.name for n in top for a in n.names} | {
            n.module for n in top if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(n.split(".")[0] in ("matplotlib", "ipywidgets") for n in names), m
