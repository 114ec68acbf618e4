"""Execute the design-review notebooks into HTML and pull out each one's question, answer and figure."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from whsim.demo.supervise import Log

__all__ = ["notebook_paths", "run_notebooks"]

_INLINE_BACKEND: Final = "module://matplotlib_inline.backend_inline"


def notebook_paths(folder: Path) -> list[Path]:
    """The design-review notebooks, ``NN-topic.ipynb``, in order."""
    return sorted(folder.glob("[0-9][0-9]-*.ipynb"))


def _question_and_answer(nb: Any) -> tuple[str, str]:
    question = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "**Question.**" in cell.source:
            text = cell.source.split("**Question.**", 1)[1]
            question = " ".join(text.split("\n\n", 1)[0].split())
            break
    answer = ""
    if nb.cells:
        answer = "".join(
            o.get("text", "")
            for o in nb.cells[-1].get("outputs", [])
            if o.get("output_type") == "stream"
        ).strip()
    return question, answer


def _last_figure(nb: Any, target: Path) -> Path | None:
    """Save the answer's figure (the last PNG the notebook shows) to ``target``."""
    import base64

    for cell in reversed(nb.cells):
        for output in reversed(cell.get("outputs", [])):
            png = output.get("data", {}).get("image/png")
            if png:
                target.write_bytes(base64.b64decode(png))
                return target
    return None


def run_notebooks(
    paths: Sequence[Path], out: Path, *, reports: Path, timeout_s: float = 300.0, log: Log = print
) -> list[dict[str, Any]]:
    """Execute each notebook on the ``python3`` kernel and write it as HTML into ``out``.

    Figures are rendered inline (PNG in the page); ``WHSIM_REPORTS`` tells notebook 06 where
    this run's conformance reports are. A notebook that raises is written all the same, up to
    the failing cell, and marked failed.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter()  # type: ignore[no-untyped-call]
    rows = []
    saved = {k: os.environ.get(k) for k in ("MPLBACKEND", "WHSIM_REPORTS")}
    os.environ["MPLBACKEND"] = (
        _INLINE_BACKEND  # the kernel inherits it: non-interactive, PNGs inline
    )
    os.environ["WHSIM_REPORTS"] = str(reports.resolve())
    try:
        for path in paths:
            started = time.monotonic()
            nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
            error = ""
            client = NotebookClient(
                nb,
                timeout=timeout_s,
                kernel_name="python3",
                resources={"metadata": {"path": str(path.parent)}},
                extra_arguments=["--log-level=ERROR"],  # not ipykernel's TCP warning
            )
            try:
                client.execute()
            except Exception as exc:  # a cell raised, or the kernel died or would not start
                # While it runs, nbclient answers Ctrl-C (and SIGTERM) by shutting the kernel
                # down, which surfaces as some other error; its handler leaves this mark. A
                # Ctrl-C in a terminal also reaches the kernel, as a KeyboardInterrupt in a cell.
                cell_interrupted = getattr(exc, "ename", "") == "KeyboardInterrupt"
                if cell_interrupted or getattr(client, "_async_cleanup_kernel_future", None):
                    raise KeyboardInterrupt from None
                if isinstance(exc, CellExecutionError):
                    text = str(exc).strip()
                    error = text.splitlines()[-1] if text else "cell failed"
                else:
                    error = f"{type(exc).__name__}: {exc}"
            body, _ = exporter.from_notebook_node(nb)
            target = out / f"{path.stem}.html"
            target.write_text(body, encoding="utf-8")
            took = time.monotonic() - started
            question, answer = _question_and_answer(nb)
            figure = _last_figure(nb, out / f"{path.stem}.png")
            status = "failed: " + error if error else "ok"
            log(f"  {path.stem:<28} {status} ({took:.0f} s)")
            rows.append(
                {
                    "name": path.stem,
                    "html": f"notebooks/{target.name}",
                    "ok": not error,
                    "error": error,
                    "seconds": took,
                    "question": question,
                    "answer": answer,
                    "figure": f"notebooks/{figure.name}" if figure else "",
                }
            )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return rows
