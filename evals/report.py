"""Readable tables and the on-disk report (Markdown + PNG charts) of an evaluation run."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# Outcome categories of one question, in legend order, with their chart colours.
CATEGORIES: dict[str, str] = {
    "rank 1": "#1a9850",
    "rank 2-5": "#91cf60",
    "rank 6-10": "#fee08b",
    "miss": "#d73027",
    "abstained (right)": "#4575b4",
    "answered (wrong)": "#f46d43",
    "abstained (wrong)": "#762a83",
}


@dataclass
class ReportData:
    """Everything a report shows, independent of which evaluation produced it."""

    title: str
    columns: list[str]  # metric keys shown in the table, in order
    rows: list[dict[str, object]]  # one summary per system, each with a "system" key
    ids: list[str]  # question ids, in dataset order
    categories: dict[str, list[str]]  # system → category of each question (aligned with ids)
    latencies: dict[str, list[float]]  # system → latency of each question in ms
    details: list[dict[str, object]] = field(default_factory=list)  # per-question records (JSONL)
    notes: list[str] = field(default_factory=list)
    question_rows: list[dict[str, object]] = field(default_factory=list)  # shown when short enough
    question_columns: list[str] = field(default_factory=list)


def rank_category(rank: int | None) -> str:
    """Outcome bucket of a first-relevant rank."""
    if rank == 1:
        return "rank 1"
    if rank is not None and rank <= 5:
        return "rank 2-5"
    if rank is not None and rank <= 10:
        return "rank 6-10"
    return "miss"


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


def format_table(rows: Sequence[dict[str, object]], columns: Sequence[str]) -> str:
    """A fixed-width text table, one row per system."""
    header = ["system", *columns]
    body = [[str(r.get("system", "")), *(_cell(r.get(c)) for c in columns)] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in pairs)

    return "\n".join([line(header), *(line(b) for b in body)])


def markdown_table(rows: Sequence[dict[str, object]], columns: Sequence[str], first: str = "system") -> str:
    """The same table in Markdown (first column: the `first` key of each row)."""
    out = [f"| {first} | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    out += ["| " + " | ".join([str(r.get(first, "")), *(_cell(r.get(c)) for c in columns)]) + " |"
            for r in rows]
    return "\n".join(out)


def ratio_rows(rows: Sequence[dict[str, object]], columns: Sequence[str]) -> list[dict[str, object]]:
    """Ours (the first row) divided by each baseline, per metric: the side-by-side improvement."""
    if len(rows) < 2:
        return []
    ours = rows[0]
    out = []
    for base in rows[1:]:
        row: dict[str, object] = {"system": f"{ours['system']} / {base['system']}"}
        for c in columns:
            a, b = ours.get(c), base.get(c)
            ok = isinstance(a, int | float) and isinstance(b, int | float) and b
            row[c] = round(a / b, 3) if ok else None  # type: ignore[operator]
        out.append(row)
    return out


def _charts(data: ReportData, folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    systems = list(data.categories)
    names = list(CATEGORIES)
    grid = [[names.index(c) for c in data.categories[s]] for s in systems]
    width = max(6.0, min(24.0, 0.18 * len(data.ids) + 2))
    fig, ax = plt.subplots(figsize=(width, 1.6 + 0.5 * len(systems)))
    ax.imshow(grid, aspect="auto", interpolation="nearest", vmin=0, vmax=len(names) - 1,
              cmap=ListedColormap(list(CATEGORIES.values())))
    ax.set_yticks(range(len(systems)), systems)
    if len(data.ids) <= 80:
        ax.set_xticks(range(len(data.ids)), data.ids, rotation=90, fontsize=6)
    else:
        ax.set_xlabel(f"{len(data.ids)} questions, dataset order")
    used = sorted({c for s in systems for c in data.categories[s]}, key=names.index)
    ax.legend(handles=[Patch(color=CATEGORIES[c], label=c) for c in used], loc="lower center",
              bbox_to_anchor=(0.5, 1.0), ncol=min(len(used), 4), fontsize=7, frameon=False)
    fig.suptitle("Per-question outcome")
    fig.tight_layout()
    fig.savefig(folder / "outcomes.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    positive = {s: [max(v, 1e-3) for v in data.latencies[s]] for s in systems if data.latencies[s]}
    ax.boxplot(list(positive.values()), tick_labels=list(positive), orientation="horizontal", showfliers=True)
    ax.set_xscale("log")
    ax.invert_yaxis()  # first system (ours) on top, as in the table
    ax.set_xlabel("latency per question (ms, log scale)")
    ax.set_title("Latency distribution")
    fig.tight_layout()
    fig.savefig(folder / "latency.png", dpi=120)
    plt.close(fig)
    return ["outcomes.png", "latency.png"]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "eval"


def write_report(data: ReportData, out_dir: Path, label: str, *, now: datetime | None = None) -> Path:
    """Write report.md, charts and outcomes.jsonl under out_dir/<timestamp>-<label>/; return the folder."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    folder = out_dir / f"{stamp}-{_slug(label)}"
    folder.mkdir(parents=True, exist_ok=True)
    charts = _charts(data, folder)
    lines = [f"# {data.title}", "", markdown_table(data.rows, data.columns), ""]
    ratios = ratio_rows(data.rows, data.columns)
    if ratios:
        lines += ["## Ratios (ours / baseline, same questions, same run)", "",
                  markdown_table(ratios, data.columns), ""]
    if data.notes:
        lines += ["## Notes", "", *(f"- {n}" for n in data.notes), ""]
    lines += ["## Charts", "", *(f"![{c}]({c})" for c in charts), ""]
    if data.question_rows:
        table = markdown_table(data.question_rows, data.question_columns, first="id")
        lines += ["## Questions", "", table, ""]
    if data.details:
        lines += ["Per-question outcomes: `outcomes.jsonl` (one line per question and system).", ""]
    (folder / "report.md").write_text("\n".join(lines), encoding="utf-8")
    with (folder / "outcomes.jsonl").open("w", encoding="utf-8") as fh:
        for record in data.details:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return folder


# ---- builders: evaluation results → ReportData ----------------------------------------------


def _seed_category(o: Any) -> str:
    if not o.answerable:
        return "abstained (right)" if o.abstained else "answered (wrong)"
    return "abstained (wrong)" if o.abstained else rank_category(o.rank)


def _seed_detail(item: Any, per: dict[str, Any]) -> dict[str, object]:
    return {"id": item.id, "question": item.question, "answerable": item.answerable, "tags": list(item.tags),
            **{name: {"rank": o.rank, "citations": o.citations, "relevant_citations": o.relevant_citations,
                      "contains": [o.contains_found, o.contains_total], "abstained": o.abstained,
                      "latency_ms": round(o.latency_ms, 1), "top": o.top} for name, o in per.items()}}


def _seed_row(item: Any, per: dict[str, Any], ours: Any) -> dict[str, object]:
    return {"id": item.id, "answerable": "yes" if item.answerable else "no", "tags": " ".join(item.tags),
            **{f"rank {name}": o.rank for name, o in per.items()},
            "cited (relevant/all)": f"{ours.relevant_citations}/{ours.citations}",
            "contains": f"{ours.contains_found}/{ours.contains_total}" if ours.contains_total else "",
            "abstained": "yes" if ours.abstained else ""}


def seed_report(payload: dict[str, Any], runs: Sequence[Any], items: Sequence[Any],
                columns: list[str]) -> ReportData:
    """Report data for a dataset run: table, per-question outcomes and latencies of every system."""
    details, qrows = [], []
    for i, item in enumerate(items):
        per = {r.name: r.outcomes[i] for r in runs}
        details.append(_seed_detail(item, per))
        qrows.append(_seed_row(item, per, runs[0].outcomes[i]))
    ingest = payload["ingest"]
    notes = [f"Embedding model: {payload.get('embedding_model')}; fresh store: {ingest['documents']} "
             f"documents, {ingest['chunks']} chunks, ingested in {payload['ingest_seconds']} s.",
             "Retrieval and citation metrics are over answerable questions; abstention metrics over all.",
             "Baselines are retrieval only: they 'cite' their top passages, never abstain, write no answer.",
             "Latencies exclude one untimed warm-up question per system."]
    if scans := payload.get("scanned"):
        notes.append(f"policyqa-scanned: the corpus as {scans['files']} image-only PDF(s) at level "
                     f"'{scans['level']}' (evals/scans), OCRed into a second fresh store: "
                     f"{scans['ingest']['chunks']} chunks, rendered in {scans['render_seconds']} s, "
                     f"ingested in {scans['ingest_seconds']} s. {scans['judgeable']} of {scans['answerable']} "
                     "answerable questions have an evidence string (or listed document) in some chunk of the OCR "
                     "text: a misread evidence string matches no chunk, so that question counts as a miss.")
    return ReportData(
        title=f"policyqa eval: {payload['dataset']}", columns=columns, rows=payload["rows"],
        ids=[it.id for it in items],
        categories={r.name: [_seed_category(o) for o in r.outcomes] for r in runs},
        latencies={r.name: [o.latency_ms for o in r.outcomes] for r in runs}, details=details, notes=notes,
        question_rows=qrows, question_columns=[c for c in qrows[0] if c != "id"] if qrows else [])


def alqac_report(payload: dict[str, Any], runs: Sequence[Any], columns: list[str]) -> ReportData:
    """Report data for an ALQAC run."""
    ids = [o.id for o in runs[0].outcomes]
    details: list[dict[str, object]] = []
    for i, qid in enumerate(ids):
        record: dict[str, object] = {"id": qid, "gold": [list(a) for a in runs[0].outcomes[i].gold]}
        for r in runs:
            o = r.outcomes[i]
            record[r.name] = {"rank": o.rank, "top": [list(a) for a in o.ranked[:3]],
                              "latency_ms": round(o.latency_ms, 1)}
        details.append(record)
    notes = [f"{payload['laws']} laws, {payload['questions']} questions ({payload['skipped_questions']} "
             f"skipped: their gold articles are in laws not loaded); store cached at {payload['cache']}.",
             "Chunk rankings are merged to articles (first occurrence, no repeats) before scoring.",
             "Latencies exclude one untimed warm-up question per system."]
    return ReportData(
        title="policyqa eval-alqac (ALQAC 2025 task 1, article retrieval)", columns=columns,
        rows=payload["rows"], ids=ids,
        categories={r.name: [rank_category(o.rank) for o in r.outcomes] for r in runs},
        latencies={r.name: [o.latency_ms for o in r.outcomes] for r in runs}, details=details, notes=notes)
