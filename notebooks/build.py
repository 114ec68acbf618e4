"""Write the design-review notebooks from the cell sources in notebooks/src/ (stripped, no outputs).

Each notebooks/src/NN-topic.py holds cells separated by lines ``# %% [markdown]`` or ``# %%``
(a code cell; ``# %% parameters`` tags the cell ``parameters``, papermill's convention). Run it
after editing a source: ``.venv/bin/python notebooks/build.py``. The .ipynb files are what a
reviewer opens; the sources are what a reviewer diffs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
MARK = re.compile(r"^# %%(?: (?P<kind>\[markdown\]|parameters))?\s*$")


def cells(text: str) -> list[nbformat.NotebookNode]:
    out: list[nbformat.NotebookNode] = []
    kind: str | None = None
    lines: list[str] = []

    def flush() -> None:
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "[markdown]":
            md = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
            out.append(nbformat.v4.new_markdown_cell(md))
        else:
            cell = nbformat.v4.new_code_cell(body)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
            out.append(cell)

    for line in text.splitlines():
        m = MARK.match(line)
        if m:
            flush()
            kind, lines = (m.group("kind") or "code"), []
        else:
            lines.append(line)
    flush()
    return out


def build(source: Path, target_dir: Path = HERE) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = cells(source.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{source.stem[:2]}-{i:02d}"  # stable ids: rebuilding changes nothing
    target = target_dir / f"{source.stem}.ipynb"
    nbformat.validate(nb)
    target.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return target


def main(names: list[str]) -> int:
    sources = sorted((HERE / "src").glob("[0-9][0-9]-*.py"))
    if names:
        sources = [s for s in sources if any(s.stem.startswith(n) for n in names)]
    for source in sources:
        print(f"wrote {build(source).relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
