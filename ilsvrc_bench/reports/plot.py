"""The challenge's top-5 error by year, with the user's models drawn in (matplotlib, Agg).

Challenge entries are test-set figures; models are val figures with no year, so each is a
horizontal line across the years (with its 95% interval shaded for measured runs): where the
line crosses the winners' curve is the year it would have stopped winning.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ilsvrc_bench import history, serialize

DEFAULT_SIZE_PX = (1200, 700)
DPI = 100
MAX_MODELS = 12


@dataclass(frozen=True)
class PlotModel:
    """A model to draw: its top-5 error (percent) and, for a measured run, its 95% interval."""

    label: str
    top5_err: float
    kind: str = "run"  # "run" or "reference"
    ci: tuple[float, float] | None = None
    # what the figure is on, e.g. "center, bf16; ilsvrc2012-val (subset, 500 images, --limit)"
    detail: str = ""


def use_agg() -> None:
    """Import matplotlib with the Agg backend, its font cache in ``$TORCH_HOME/ilsvrc-bench/``
    (not ``~/.cache/matplotlib``: the tool writes only under the data root, the runs directory
    and ``$TORCH_HOME``); a ``$MPLCONFIGDIR`` the user set wins."""
    import os

    from ilsvrc_bench import paths

    if "MPLCONFIGDIR" not in os.environ:
        folder = paths.torch_home() / "ilsvrc-bench" / "matplotlib"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:  # $TORCH_HOME unusable: a throw-away folder, without matplotlib's warning
            import atexit
            import shutil
            import tempfile

            folder = Path(tempfile.mkdtemp(prefix="ilsvrc-bench-matplotlib-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["MPLCONFIGDIR"] = str(folder)
    import matplotlib

    matplotlib.use("Agg", force=False)


def challenge_plot_png(
    models: Sequence[PlotModel] = (),
    *,
    size_px: tuple[int, int] = DEFAULT_SIZE_PX,
    include_outside_data: bool = False,
) -> bytes:
    """The plot as PNG bytes of exactly ``size_px`` (width, height) pixels."""
    use_agg()  # before matplotlib is first imported
    import matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size_px[0] / DPI, size_px[1] / DPI), dpi=DPI)
    ax = fig.add_subplot(1, 1, 1)
    years = list(history.YEARS)
    entries = history.challenge_entries(include_outside_data=include_outside_data)
    ax.scatter(
        [e.year for e in entries],
        [e.top5_err or 0.0 for e in entries],
        s=12,
        color="#b0b7c0",
        label="challenge entries (test)",
        zorder=2,
    )
    winners = [history.winner(y, include_outside_data=include_outside_data) for y in years]
    ax.plot(
        years,
        [w.top5_err or 0.0 for w in winners],
        marker="o",
        color="#1f3a93",
        linewidth=2,
        label="winner (test)",
        zorder=3,
    )
    for w in winners:
        ax.annotate(
            w.team, (w.year, w.top5_err or 0), textcoords="offset points", xytext=(4, 6), fontsize=7
        )
    human = history.human()
    if human.top5_err is not None:
        ax.axhline(human.top5_err, color="#2e7d32", linestyle=":", linewidth=1.2)
        ax.text(years[0] - 0.4, human.top5_err + 0.4, f"human {human.top5_err:g}%", fontsize=7)
    colors = matplotlib.colormaps["tab10"]
    for i, m in enumerate(models[:MAX_MODELS]):
        color = colors(i % 10)
        style = "--" if m.kind == "reference" else "-"
        ax.axhline(m.top5_err, color=color, linestyle=style, linewidth=1.3, label=_legend(m))
        if m.ci is not None:
            ax.axhspan(m.ci[0], m.ci[1], color=color, alpha=0.12, linewidth=0)
    ax.set_xticks(years)
    ax.set_xlim(years[0] - 0.5, years[-1] + 0.5)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("ILSVRC year")
    ax.set_ylabel("top-5 error %")
    ax.axvspan(years[0] - 0.5, 2011.5, color="#f3e9d2", alpha=0.5, linewidth=0, zorder=0)
    ax.text(2010.5, 1.0, "other test set\nand classes", fontsize=7, ha="center", color="#7a6a45")
    which = "all entries" if include_outside_data else "provided training data only"
    ax.set_title(
        f"ILSVRC classification: top-5 error by year (challenge: test, {which}; models: val)"
    )
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=7, frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _legend(m: PlotModel) -> str:
    if m.kind == "reference":
        return f"{m.label}: {m.top5_err:.2f}% (published val{', ' + m.detail if m.detail else ''})"
    return f"{m.label}: {m.top5_err:.2f}% (measured; {m.detail or 'val'})"


def write_plot(
    path: Path,
    models: Sequence[PlotModel] = (),
    *,
    size_px: tuple[int, int] = DEFAULT_SIZE_PX,
    include_outside_data: bool = False,
) -> bytes:
    """Write the plot to ``path`` (PNG) and return its bytes."""
    png = challenge_plot_png(models, size_px=size_px, include_outside_data=include_outside_data)
    serialize.atomic_write_bytes(path, png)  # OutputError naming the file if it cannot
    return png
