"""The check verdict as Markdown, e.g. for ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

from ilsvrc_bench.errors import IlsvrcBenchError
from ilsvrc_bench.output import to_markdown
from ilsvrc_bench.reports.sides import Side
from ilsvrc_bench.reports.verdict import Verdict

MAX_FLIPS_SHOWN = 20


def _side_row(role: str, side: Side, acc: float, verdict: Verdict) -> dict[str, object]:
    ci = side.ci(verdict.metric, verdict.level)
    return {
        "role": role,
        "source": side.label,
        "model": side.model or "",
        "data": side.data or "",
        "n": side.n_images if side.n_images is not None else "",
        f"{verdict.metric} acc %": f"{acc:.2f}",
        f"{verdict.level_text} CI": "" if ci is None else f"[{ci[0]:.2f}, {ci[1]:.2f}]",
    }


def verdict_markdown(verdict: Verdict, *, class_names: dict[int, str] | None = None) -> str:
    """A heading with the verdict, a table of both sides, the evidence, notes and flipped images."""
    icon = "❌" if verdict.regression else "✅"
    metric = verdict.metric
    lines = [
        f"## {icon} ilsvrc-bench check: {verdict.status}",
        "",
        f"**{metric} accuracy** {verdict.candidate_acc:.2f}% vs {verdict.baseline_acc:.2f}% "
        f"({verdict.delta:+.2f} pts; max drop allowed {verdict.max_drop:g} pts).",
        "",
    ]
    rows = [
        _side_row("baseline", verdict.baseline, verdict.baseline_acc, verdict),
        _side_row("candidate", verdict.candidate, verdict.candidate_acc, verdict),
    ]
    columns = list(rows[0])
    lines += [to_markdown(rows, columns), f"Evidence ({verdict.method}): {verdict.evidence()}.", ""]
    lines += [f"- {note}" for note in verdict.notes]
    if verdict.notes:
        lines.append("")
    flips = verdict.flips
    if len(flips):
        shown = flips.head(MAX_FLIPS_SHOWN)
        records = [
            {
                "image": r["path"],
                "label": _named(int(r["label"]), class_names),
                "baseline top-1": _named(int(r["baseline_pred"]), class_names),
                "candidate top-1": _named(int(r["candidate_pred"]), class_names),
                "change": r["change"],
            }
            for r in shown.to_dict("records")
        ]
        lines += [
            "<details><summary>"
            f"{len(flips)} flipped images ({verdict.lost} lost, {verdict.gained} gained)"
            "</summary>",
            "",
            to_markdown(records, list(records[0])),
        ]
        if len(flips) > MAX_FLIPS_SHOWN:
            lines.append(f"… and {len(flips) - MAX_FLIPS_SHOWN} more.")
        lines += ["</details>", ""]
    return "\n".join(lines)


def _named(index: int, names: dict[int, str] | None) -> str:
    if index < 0:
        return "(none)"
    if names and index in names:
        return f"{index} {names[index]}"
    return str(index)


def error_markdown(exc: IlsvrcBenchError, *, baseline: str, candidate: str) -> str:
    """The Markdown of a check that could not compare the two sides (exit 2-5)."""
    return "\n".join(
        [
            "## ⚠️ ilsvrc-bench check: NOT COMPARABLE",
            "",
            f"**candidate** `{candidate}` vs **baseline** `{baseline}`: no verdict "
            f"(exit {int(exc.exit_code)}).",
            "",
            f"> {exc!s}",
            "",
        ]
    )
