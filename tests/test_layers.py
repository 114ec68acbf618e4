"""The import contract of the layers (ARCHITECTURE.md): arrows point down only, and the core is pure.

Read from the source (every ``import``, including those inside functions), not from what a
run happens to load, so a lazy import of a shell in the core fails here too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (layer, rank, module prefixes); a module may import only its own layer or lower ranks
LAYERS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("core", 0, ("whsim.core",)),
    ("shells", 1, ("whsim.sim", "whsim.sender", "whsim.receiver", "whsim.serve", "whsim.cores")),
    ("analysis", 2, ("whsim.analysis",)),
    ("kit", 3, ("whsim.conformance", "whsim_conformance", "whsim.pytest_plugin")),
    # test-only broken senders (issue 12): subclasses of the sender that tests install; their
    # `python -m` entry reuses the sender command, so they sit with the tools, above the shells
    ("faults", 4, ("whsim.sender.faults",)),
    ("tools", 4, ("whsim.cli", "whsim.commands", "whsim.demo", "whsim.listen", "whsim.__main__")),
)  # fmt: skip
# the package facade re-exports the core and the simulator; it is no layer of its own
FACADE = ("whsim",)

IO_MODULES = ("sqlite3", "socket", "http", "httpx", "starlette", "uvicorn", "asyncio", "aiohttp",
              "urllib.request", "subprocess", "requests")  # fmt: skip
# calls that read the wall clock, the environment or global randomness
IMPURE_CALLS = ("time.time", "time.time_ns", "datetime.now", "datetime.utcnow", "os.getenv")
# the one clock abstraction in the core: WallClock reads the monotonic clock, and only there
CLOCK_MODULE = "whsim.core.clock"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "conformance":
        parts[0] = "whsim_conformance"
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> list[tuple[str, Path]]:
    files = [*(ROOT / "whsim").rglob("*.py"), *(ROOT / "conformance").rglob("*.py")]
    return sorted((_module_name(p), p) for p in files if "test_" not in p.name)


def _layer(module: str) -> tuple[str, int] | None:
    best: tuple[int, str, int] | None = None
    for name, rank, prefixes in LAYERS:
        for prefix in prefixes:
            covers = module == prefix or module.startswith(prefix + ".")
            if covers and (best is None or len(prefix) > best[0]):
                best = (len(prefix), name, rank)
    return None if best is None else (best[1], best[2])


def _imports(path: Path, module: str) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    out: list[str] = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append(name)
            out.extend(f"{name}.{alias.name}" for alias in node.names)
    return out


def _calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            names.append(f"{node.value.id}.{node.attr}")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            names.append(f"{node.value.attr}.{node.attr}")
    return names


def violations() -> list[str]:
    found: list[str] = []
    for module, path in _sources():
        if module in FACADE:
            continue
        mine = _layer(module)
        if mine is None:
            found.append(f"{module} is in no layer (add it to LAYERS and ARCHITECTURE.md)")
            continue
        name, rank = mine
        for imported in _imports(path, module):
            other = _layer(imported)
            if other is not None and other[1] > rank:
                found.append(f"{module} ({name}) imports {imported} ({other[0]})")
            if name == "core":
                top = imported.split(".")[0]
                if imported in IO_MODULES or top in IO_MODULES:
                    found.append(f"{module} (core) imports I/O module {imported}")
                if imported in FACADE:
                    found.append(f"{module} (core) imports the facade {imported}")
                if imported in ("time", "os") and module != CLOCK_MODULE:
                    found.append(f"{module} (core) imports {imported}")
        if name == "core":
            calls = _calls(path)
            for bad in IMPURE_CALLS:
                if bad in calls:
                    found.append(f"{module} (core) calls {bad}")
            if "environ" in {c.split(".")[-1] for c in calls}:
                found.append(f"{module} (core) reads os.environ")
            for call in calls:
                if call.startswith("random.") and call != "random.Random":
                    found.append(f"{module} (core) uses global randomness {call}")
    return found


def test_every_module_respects_the_layers():
    assert violations() == []


@pytest.mark.parametrize(
    ("module", "source", "needle"),
    [
        ("whsim.core.fake", "import sqlite3\n", "I/O module sqlite3"),
        ("whsim.core.fake", "def f():\n    from whsim.sim import engine\n", "(shells)"),
        ("whsim.core.fake", "import time\nx = time.time()\n", "calls time.time"),
        ("whsim.core.fake", "import random\nx = random.random()\n", "global randomness"),
        ("whsim.core.fake", "import os\nx = os.environ['A']\n", "os.environ"),
        ("whsim.core.fake", "from whsim.analysis import plot\n", "(analysis)"),
        ("whsim.sim.fake", "from whsim.commands import simulate\n", "(tools)"),
        ("whsim.sender.fake", "import whsim.conformance.report\n", "(kit)"),
        ("whsim_conformance.fake", "from whsim.demo import run\n", "(tools)"),
    ],
)
def test_the_contract_catches_a_bad_import(tmp_path, module, source, needle):
    parts = module.split(".")
    base = tmp_path / ("conformance" if parts[0] == "whsim_conformance" else "whsim")
    where = base.joinpath(*parts[1:-1]) / f"{parts[-1]}.py"
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text(source)
    globals()["ROOT"] = tmp_path
    try:
        found = violations()
    finally:
        globals()["ROOT"] = Path(__file__).resolve().parents[1]
    assert any(needle in v for v in found), found


def test_random_random_as_a_type_is_allowed_in_the_core(tmp_path):
    where = tmp_path / "whsim" / "core" / "ok.py"
    where.parent.mkdir(parents=True)
    where.write_text("import random\ndef f(rng: random.Random) -> int:\n    return 1\n")
    globals()["ROOT"] = tmp_path
    try:
        assert violations() == []
    finally:
        globals()["ROOT"] = Path(__file__).resolve().parents[1]
