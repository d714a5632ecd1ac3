"""Execute the lessons and store their outputs, and write the lesson index and navigation.

    .venv/bin/python scripts/build_lessons.py            # every lesson
    .venv/bin/python scripts/build_lessons.py 00 03      # lessons whose number starts so

For each ``lessons/NN-title.ipynb``: run it top to bottom in a fresh kernel (from the lessons
folder), keep the outputs (nbval compares them later) but not the widget state (a saved widget
cannot come alive without its kernel: the text form is kept instead), refresh the navigation
cell at the end (previous / index / next), and write ``lessons/README.md``, the index. Nothing
here is edited by hand. Progress bars are off (``MQLAB_PROGRESS=0``): one that appeared because
this machine was slow would become an output that nbval then expects on every machine.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NAV_TAG = "navigation"
# the course plan: a lesson listed here that has no notebook yet is shown in the index as coming
PLANNED = {
    "01": "Messages and queues",
    "02": "Sync vs async",
    "03": "Queue types",
    "04": "Brokers and point-to-point",
    "05": "Publish–subscribe",
    "06": "Measuring",
    "07": "Fault tolerance",
    "08": "Security",
    "09": "A real broker",
    "10": "Choosing a design",
}


def title_of(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return "untitled"


def nav_cell(paths: list[Path], i: int):
    bits = []
    if i > 0:
        bits.append(f"[← {paths[i - 1].stem}]({paths[i - 1].name})")
    bits.append("[index](README.md)")
    if i + 1 < len(paths):
        bits.append(f"[{paths[i + 1].stem} →]({paths[i + 1].name})")
    cell = nbformat.v4.new_markdown_cell("---\n" + " · ".join(bits))
    cell.metadata["tags"] = [NAV_TAG]
    return cell


def strip_widget_views(nb) -> None:
    """Keep a widget's text form, not its view; drop progress bars (closed once done)."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                if data.get("text/plain", "").startswith("IntProgress("):
                    continue
            kept.append(out)
        if "outputs" in cell:
            cell.outputs = kept


def build(path: Path, paths: list[Path]) -> str:
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if NAV_TAG not in c.metadata.get("tags", [])]
    nb.cells.append(nav_cell(paths, paths.index(path)))
    for cell in nb.cells:  # cell ids make diffs noisy and nbval does not need them
        cell.pop("id", None)
    nb.nbformat_minor = 4
    for cell in nb.cells:  # no timestamps: a rebuild changes only what the lesson shows
        cell.metadata.pop("execution", None)
    NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(LESSONS)}}).execute()
    strip_widget_views(nb)
    nbformat.write(nb, path)
    return title_of(nb)


def write_index(paths: list[Path]) -> None:
    rows = {p.stem[:2]: f"[{title_of(nbformat.read(p, as_version=4))}]({p.name})" for p in paths}
    coming = {n: f"{n} · {title} *(coming)*" for n, title in PLANNED.items() if n not in rows}
    lines = ["# Lessons", "", "Open them in order; each takes 30-45 minutes."]
    if coming:
        lines += ["Lessons marked *coming* are not written yet."]
    lines += ["", "| # | lesson |", "|---|---|"]
    lines += [f"| {n} | {text} |" for n, text in sorted({**coming, **rows}.items())]
    (LESSONS / "README.md").write_text("\n".join(lines) + "\n")


def main(prefixes: list[str]) -> None:
    os.environ["MQLAB_PROGRESS"] = "0"  # the kernels inherit it
    paths = sorted(LESSONS.glob("[0-9][0-9]-*.ipynb"))
    for p in paths:
        if not prefixes or any(p.name.startswith(x) for x in prefixes):
            print(f"executing {p.name} ...", flush=True)
            print(f"  {build(p, paths)}")
    write_index(paths)


if __name__ == "__main__":
    main(sys.argv[1:])
