"""An eval report: one markdown table, a JSON copy of the rows, and two plots against N.

``accuracy.png`` plots EM (mean over objectives; success where the tasks hold no
questions) and ``peak_tokens.png`` the peak context tokens, both against N with one
line per context builder: MEM1's headline figure for any policy and any suite.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envkit.eval.harness import EvalRow

__all__ = ["markdown_table", "plot_against_n", "write_report"]

_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("N", "n_objectives", "{}"),
    ("context", "builder", "{}"),
    ("episodes", "episodes", "{}"),
    ("EM (sum)", "em_sum", "{:.3f}"),
    ("EM", "em_mean", "{:.3f}"),
    ("F1", "f1_mean", "{:.3f}"),
    ("success", "success", "{:.3f}"),
    ("peak tokens", "peak_context_tokens", "{:.0f}"),
    ("mean tokens", "mean_context_tokens", "{:.0f}"),
    ("dependency (×10⁶)", "dependency", "{:.3f}"),
    ("turns", "turns", "{:.1f}"),
    ("violations", "violations", "{:.2f}"),
    ("wall s", "wall_s", "{:.2f}"),
    ("tokens/s", "tokens_per_s", "{:.0f}"),
    ("GPU peak GiB", "gpu_peak_bytes", "{:.2f}"),
)


def _cell(row: EvalRow, key: str, fmt: str) -> str:
    value = getattr(row, key)
    if value is None:
        return "–"
    if key == "dependency":
        value = value / 1e6
    elif key == "gpu_peak_bytes":
        value = value / 2**30
    return fmt.format(value)


def markdown_table(rows: Sequence[EvalRow]) -> str:
    """The rows as a GitHub markdown table (columns with no values left out)."""
    columns = [c for c in _COLUMNS if any(getattr(r, c[1]) is not None for r in rows)]
    lines = [
        "| " + " | ".join(c[0] for c in columns) + " |",
        "|" + "|".join("---" if c[1] == "builder" else "---:" for c in columns) + "|",
    ]
    lines += ["| " + " | ".join(_cell(r, key, fmt) for _, key, fmt in columns) + " |" for r in rows]
    return "\n".join(lines)


def plot_against_n(rows: Sequence[EvalRow], metric: str, label: str, path: str | Path) -> Path:
    """One line per context builder of ``metric`` against N (log₂ axis), saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 3.8), dpi=120)
    for builder in dict.fromkeys(r.builder for r in rows):
        points = sorted((r.n_objectives, getattr(r, metric)) for r in rows if r.builder == builder)
        points = [(n, v) for n, v in points if v is not None]
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", label=builder)
    ns = sorted({r.n_objectives for r in rows})
    if len(ns) > 1 and ns[0] > 0:
        axes.set_xscale("log", base=2)
    axes.set_xticks(ns, [str(n) for n in ns])
    axes.set_xlabel("objectives per task (N)")
    axes.set_ylabel(label)
    axes.grid(alpha=0.3)
    axes.legend(title="context")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    plt.close(figure)
    return path


def write_report(
    rows: Sequence[EvalRow], folder: str | Path, title: str, details: dict[str, Any] | None = None
) -> Path:
    """Write ``report.md``, ``results.json``, ``accuracy.png`` and ``peak_tokens.png`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    has_questions = any(r.em_mean is not None for r in rows)
    accuracy, accuracy_label = ("em_mean", "EM (mean over objectives)") if has_questions else ("success", "success")
    plot_against_n(rows, accuracy, accuracy_label, folder / "accuracy.png")
    plot_against_n(rows, "peak_context_tokens", "peak context tokens", folder / "peak_tokens.png")
    (folder / "results.json").write_text(
        json.dumps({"title": title, **(details or {}), "rows": [r.to_dict() for r in rows]}, indent=2) + "\n"
    )
    settings = "".join(f"- {k}: {v}\n" for k, v in (details or {}).items())
    report = (
        f"# {title}\n\n{settings}\n{markdown_table(rows)}\n\n"
        "EM (sum) is MEM1's figure (objectives answered exactly per episode); EM and F1 are means over "
        "objectives. Peak tokens: the largest context the policy generated from, averaged over episodes. "
        "Dependency: attention pairs of generated tokens per episode.\n\n"
        f"![{accuracy_label} against N](accuracy.png)\n![peak context tokens against N](peak_tokens.png)\n"
    )
    path = folder / "report.md"
    path.write_text(report)
    return path
