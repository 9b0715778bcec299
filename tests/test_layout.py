"""The house rules of the code, checked on the code itself: dependencies point only downward, modules stay
small, tests share helpers through testkit and conftest, never through each other."""

import ast

import pytest

from testkit.paths import REPO

# imagesearch's sub-packages and what each may import besides itself (imagesearch/__init__.py says why)
MAY_IMPORT = {
    "errors": set(),
    "store": {"errors"},
    "models": {"errors", "store"},
    "hub": {"errors", "store"},
    "serve": {"errors", "store", "models", "hub"},
}
MAX_LINES = 300


def _imports(path):
    """Every module name ``path`` imports (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _part(module):
    parts = module.split(".")
    return parts[1] if parts[0] == "imagesearch" and len(parts) > 1 else None


@pytest.mark.parametrize("part", sorted(MAY_IMPORT))
def test_each_part_of_imagesearch_imports_only_what_lies_below_it(part):
    files = [REPO / "imagesearch" / "errors.py"] if part == "errors" else sorted((REPO / "imagesearch" / part).rglob("*.py"))
    assert files
    wrong = []
    for path in files:
        for module in _imports(path):
            top = module.split(".")[0]
            if top in ("build", "testkit", "tests", "app", "benchmarks"):
                wrong.append(f"{path.relative_to(REPO)} imports {module}")
            used = _part(module)
            if used and used != part and used not in MAY_IMPORT[part] and module != "imagesearch":
                wrong.append(f"{path.relative_to(REPO)} imports {module}")
    assert not wrong, wrong


def test_every_part_says_what_it_owns_and_what_it_may_import():
    for part in sorted(set(MAY_IMPORT) - {"errors"}):
        doc = ast.get_docstring(ast.parse((REPO / "imagesearch" / part / "__init__.py").read_text()))
        assert doc and "import" in doc, part


def test_no_module_of_the_product_or_the_testkit_is_over_300_lines():
    files = [REPO / "app.py", *(p for part in ("imagesearch", "build", "testkit") for p in sorted((REPO / part).rglob("*.py")))]
    long = {str(p.relative_to(REPO)): n for p in files if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long


def test_no_test_file_imports_another_and_benchmarks_use_testkit_not_tests():
    offenders = [f"{path.relative_to(REPO)} imports {module}"
                 for folder in ("tests", "benchmarks", "testkit") for path in sorted((REPO / folder).rglob("*.py"))
                 for module in _imports(path) if module.split(".")[0] == "tests" or module.startswith("test_")]
    assert not offenders


def test_every_build_step_is_declared_in_its_own_module_and_the_cli_has_no_chain_over_their_names():
    from build.cli import steps

    registry = steps()
    assert [step.name for step in registry] == ["describe", "import", "embed", "index", "evaluate", "all", "publish",
                                                "deploy", "import-seed", "demo"]
    assert len({step.run.__module__ for step in registry}) == len(registry)
    cli = (REPO / "build" / "cli.py").read_text()
    assert not any(f'== "{step.name}"' in cli or f"'{step.name}'" in cli for step in registry)


# build/'s floors, bottom up: what every step is made of; the stages' helpers, a package each; the steps; the CLI.
BUILD_BOTTOM = {"build", "build.step", "build.messages", "build.row_ids", "build.ray_session", "build.engine_flags"}
BUILD_STAGES = ("caption", "indexing", "publishing", "embedding")
BUILD_TOP = {"build.cli", "build.__main__"}


def _build_modules():
    return {".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): path
            for path in sorted((REPO / "build").rglob("*.py"))}


def _module_in(name, modules):
    """The module an imported name lives in: ``build.caption.plan.Summary`` -> ``build.caption.plan``."""
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts) if parts else None


def _floor(module):
    parts = module.split(".")
    if module in BUILD_TOP:
        return 3
    if len(parts) > 2 or (len(parts) == 2 and parts[1] in BUILD_STAGES):
        return 1
    return 0 if module in BUILD_BOTTOM else 2


def _build_graph():
    modules = _build_modules()
    return {name: {used for imported in _imports(path) if imported.split(".")[0] == "build"
                   if (used := _module_in(imported, modules)) and used != name}
            for name, path in modules.items()}


def test_build_is_laid_out_by_stage_with_steps_on_top_and_imports_pointing_down():
    graph = _build_graph()
    assert {m.split(".")[1] for m in graph if _floor(m) == 1} == set(BUILD_STAGES)
    from build.cli import steps

    assert {step.run.__module__ for step in steps()} == {m for m in graph if _floor(m) == 2}  # the top floor: steps
    upward = [f"{module} (floor {_floor(module)}) imports {used} (floor {_floor(used)})"
              for module, used_all in graph.items() for used in used_all if _floor(used) > _floor(module)]
    assert not upward, upward
    stage_to_step = [f"{m} imports {u}" for m, us in graph.items() for u in us if _floor(m) <= 1 and _floor(u) >= 2]
    assert not stage_to_step


def test_no_import_circle_can_return_in_build():
    graph = _build_graph()
    state, circles = {}, []

    def visit(module, path):
        state[module] = "open"
        for used in sorted(graph[module]):
            if state.get(used) == "open":
                circles.append(" -> ".join(path[path.index(used):] + [used]))
            elif used not in state:
                visit(used, path + [used])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not circles, circles


def test_the_floor_rule_catches_a_stage_module_that_imports_a_step():
    graph = _build_graph()
    assert not any(_floor(u) > _floor(m) for m, us in graph.items() for u in us)
    graph["build.caption.plan"] = graph["build.caption.plan"] | {"build.describe"}  # planted: a helper uses a step
    assert [(m, u) for m, us in graph.items() for u in us if _floor(u) > _floor(m)] == [("build.caption.plan",
                                                                                        "build.describe")]


def test_a_caption_engine_is_one_file_found_by_its_name():
    from build.caption.engines import engine, names

    assert names()[0] == "local" and "ray" in names()
    for name in names():
        module = engine(name)
        assert module.NAME == name and callable(module.caption)


def test_ray_is_pinned_for_the_build_and_never_reaches_the_space():
    import re

    space = (REPO / "requirements.txt").read_text()
    assert not re.search(r"^ray\b", space, flags=re.M)  # the Space installs requirements.txt only
    build = (REPO / "requirements-build.txt").read_text().splitlines()
    assert "-r requirements.txt" in build and "ray[data]==2.60.0" in build
    assert "-r requirements-build.txt" in (REPO / "requirements-test.txt").read_text().splitlines()
    served = [REPO / "app.py", *sorted((REPO / "imagesearch").rglob("*.py"))]
    assert not [p for p in served if any(m.split(".")[0] == "ray" for m in _imports(p))]
    from build.deploy import space_files

    assert not any(name.startswith("requirements-build") for name, _ in space_files())
