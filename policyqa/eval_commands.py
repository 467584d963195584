"""`policyqa eval` and `policyqa eval-alqac`: thin shells over evals.run and evals.alqac."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from evals.alqac import DEFAULT_LAWS, DEFAULT_QUESTIONS
from policyqa.context import context_of, fail, setup_logging

SEED_COLUMNS = ["n", "hit@1", "hit@5", "hit@10", "mrr@10", "citation_precision", "citation_recall",
                "answer_contains", "abstain_precision", "abstain_recall", "latency_ms_p50", "latency_ms_p95"]
ALQAC_COLUMNS = ["n", "hit@1", "hit@5", "hit@10", "mrr@10", "f2@1", "f2@{k}",
                 "latency_ms_p50", "latency_ms_p95"]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object; write no report")]
CompareOpt = Annotated[bool, typer.Option("--compare", help="Also run BM25, dense and the LangChain recipe")]
OutOpt = Annotated[Path, typer.Option("--out", help="Reports folder (git-ignored)")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v")]
CorpusOpt = Annotated[list[Path] | None, typer.Option("--corpus", help="Corpus file or folder (repeatable)")]
F2Opt = Annotated[int | None, typer.Option("--f2-k", min=1, max=10, help="k of the top-k F2 (default top_k)")]


def payload_of(result: dict[str, Any], seconds: float, **extra: object) -> dict[str, Any]:
    """The JSON object of a run: our numbers at the top level, one row per system in `rows`."""
    rows = []
    for run in result["runs"]:
        run_seconds = sum(o.latency_ms for o in run.outcomes) / 1000
        rows.append({"system": run.name, **run.summary, "seconds": round(run_seconds, 2)})
    meta = {k: v for k, v in result.items() if k != "runs"}
    ours = {k: v for k, v in rows[0].items() if k != "system"}
    return {**extra, **ours, "system": rows[0]["system"], "rows": rows, **meta,
            "total_seconds": round(seconds, 2)}


def eval_command(
    ctx: typer.Context,
    dataset: Annotated[Path, typer.Argument(help="JSONL dataset (see evals/README.md)")],
    corpus: CorpusOpt = None,
    as_json: JsonOpt = False,
    compare: CompareOpt = False,
    store: Annotated[Path | None, typer.Option("--store", help="Data dir to ingest the corpus into and keep "
                                               "(default: a fresh temporary store)")] = None,
    scanned: Annotated[bool, typer.Option("--scanned", help="Also ingest the corpus as image-only scans (OCR) "
                                          "into a second fresh store: the policyqa-scanned row")] = False,
    scan_level: Annotated[str, typer.Option("--scan-level", help="Damage of the scans: clean, clean-200, scan "
                                            "or photo (evals/scans/degrade.py)")] = "scan",
    out: OutOpt = Path("reports"),
    verbose: VerboseOpt = False,
) -> None:
    """Evaluate retrieval, citations and abstention on a dataset, over a fresh store of the corpus."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from evals.dataset import DatasetError, load_dataset
    from evals.report import format_table, seed_report, write_report
    from evals.run import evaluate
    from evals.scans.degrade import LEVELS

    setup_logging(verbose)
    if scan_level not in LEVELS:
        raise fail(f"--scan-level must be one of {', '.join(LEVELS)}, not {scan_level!r}")
    try:
        items = load_dataset(dataset)
    except DatasetError as exc:
        raise fail(str(exc)) from exc
    state = context_of(ctx)
    settings = state.settings
    paths = corpus or [settings.corpus_dir]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise fail(f"no such corpus path: {', '.join(missing)}")
    started = time.perf_counter()
    result = evaluate(settings, state.embedder(settings), items, paths, compare=compare, store=store,
                      scanned=LEVELS[scan_level] if scanned else None)
    payload = payload_of(result, time.perf_counter() - started, dataset=str(dataset))
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    typer.echo(format_table(payload["rows"], SEED_COLUMNS))
    folder = write_report(seed_report(payload, result["runs"], items, SEED_COLUMNS), out, dataset.stem)
    typer.echo(f"report: {folder / 'report.md'}")


def eval_alqac_command(
    ctx: typer.Context,
    laws: Annotated[Path, typer.Option("--laws", help="Folder of ALQAC law JSON files")] = DEFAULT_LAWS,
    questions: Annotated[Path, typer.Option("--questions", help="ALQAC questions JSON")] = DEFAULT_QUESTIONS,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N questions")] = None,
    as_json: JsonOpt = False,
    compare: CompareOpt = False,
    f2_k: F2Opt = None,
    reference: Annotated[bool, typer.Option("--plain-bm25", help="Add the reference row: plain BM25 over "
                                            "lower-cased syllables of whole articles")] = False,
    split: Annotated[str, typer.Option("--split", help="all, or the adapter's split of the questions: train "
                                       "(trained on) or dev (held out)")] = "all",
    adapter: Annotated[str, typer.Option("--adapter", help="Bi-encoder of the policyqa row: 'alqac' (the LoRA "
                                         "adapter learned on ALQAC train, dense weight 0.45), 'none' (the "
                                         "bundled weights, the configured dense weight) or a folder")] = "alqac",
    out: OutOpt = Path("reports"),
    verbose: VerboseOpt = False,
) -> None:
    """Article-level retrieval on ALQAC 2025: hit@k, mrr@10 and macro F2 (store cached by content hash).

    The policyqa row is the ALQAC deployment: the adapter learned on ALQAC train (--adapter none: the bundled
    weights). With --compare, the other bi-encoder's rows join the same run: the bundled weights
    (`untrained`, `untrained-dense`) beside the adapter, or the adapter (`alqac-lora`, `alqac-lora-dense`)."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from evals.alqac import ADAPTER_DENSE_WEIGHT, DEV_FRACTION, evaluate_alqac, load_questions, split_questions
    from evals.report import alqac_report, format_table, write_report
    from rag.settings import BUNDLED_MODEL

    setup_logging(verbose)
    for p in (laws, questions):
        if not p.exists():
            raise fail(f"no such path: {p}")
    if split not in ("all", "train", "dev"):
        raise fail(f"--split must be all, train or dev, not {split!r}")
    state = context_of(ctx)
    bundled = state.settings.model_copy(update={"embedding_adapter": "none"})
    trained = state.settings.model_copy(update={"embedding_adapter": adapter, "dense_weight": ADAPTER_DENSE_WEIGHT})
    with_adapter = adapter != "none" and state.settings.embedding_model == BUNDLED_MODEL
    settings = trained if with_adapter else bundled
    k = f2_k or settings.top_k
    ids = None
    if split != "all":
        train_q, dev_q = split_questions(load_questions(questions)[0], DEV_FRACTION)
        ids = {q.id for q in (dev_q if split == "dev" else train_q)}
    extra = []  # the other bi-encoder in the same run: the bundled weights beside the adapter, or the adapter
    if compare and settings.embedding_model == BUNDLED_MODEL:
        other_settings = bundled if with_adapter else state.settings.model_copy(
            update={"embedding_adapter": "alqac", "dense_weight": ADAPTER_DENSE_WEIGHT})
        name = "untrained" if with_adapter else "alqac-lora"
        extra.append((name, state.embedder(other_settings), other_settings))
    started = time.perf_counter()
    result = evaluate_alqac(settings, state.embedder(settings), laws, questions, limit=limit, compare=compare,
                            f2_k=k, reference=reference, question_ids=ids, extra=extra)
    payload = payload_of(result, time.perf_counter() - started, dataset=str(questions))
    columns = [c.format(k=k) for c in ALQAC_COLUMNS]
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    typer.echo(format_table(payload["rows"], columns))
    folder = write_report(alqac_report(payload, result["runs"], columns), out, "alqac")
    typer.echo(f"report: {folder / 'report.md'}")


def calibrate_command(
    ctx: typer.Context,
    fit_sets: Annotated[list[Path] | None, typer.Option("--fit", help="JSONL dataset to fit on (repeatable; "
                                                        "default: corpus_dev, seed_dispatch, corpus_blind)")] = None,
    report_sets: Annotated[list[Path] | None, typer.Option("--report", help="JSONL dataset only scored (repeatable)")]
    = None,
    corpus: CorpusOpt = None,
    alqac_laws: Annotated[int, typer.Option("--alqac-laws", min=0, help="Also use the ALQAC train questions of the "
                                            "N smallest cited laws (odd ids fit, even ids report)")] = 6,
    laws: Annotated[Path, typer.Option("--laws", help="Folder of ALQAC law JSON files")] = DEFAULT_LAWS,
    questions: Annotated[Path, typer.Option("--questions", help="ALQAC questions JSON")] = DEFAULT_QUESTIONS,
    out: Annotated[Path, typer.Option("--out", help="Model file to write")] = Path("rag/data/abstention.yaml"),
    store: Annotated[Path | None, typer.Option("--store", help="Data dir where the corpus is already ingested "
                                               "(default: a fresh temporary store of --corpus)")] = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Fit the abstention model on labelled questions (plus leave-one-document-out variants) and write it."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from evals.calibrate import collect, fit, rounded
    from evals.calibrate_data import alqac_items, calibration_report, dataset_items, existing_or_fresh
    from evals.run import fresh_engine

    setup_logging(verbose)
    state = context_of(ctx)
    settings = state.settings
    fit_sets = fit_sets or [Path("evals/datasets/corpus_dev.jsonl"), Path("evals/datasets/seed_dispatch.jsonl"),
                            Path("evals/datasets/corpus_blind.jsonl")]
    report_sets = report_sets or [Path("evals/datasets/corpus_holdout.jsonl")]
    try:
        fit_items, report_items = dataset_items(fit_sets), dataset_items(report_sets)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    embedder = state.embedder(settings)
    started = time.perf_counter()
    # No left-out variants over the default corpus: its texts overlap (the 2008 law answers much of what the
    # 2024 laws do), so a question with its source left out is often still answered, and a label saying
    # otherwise would be wrong. ALQAC's laws cover distinct subjects, so there leaving one out is a clean negative.
    with existing_or_fresh(settings, embedder, store, corpus or [settings.corpus_dir]) as engine:
        fit_ex = collect(engine, fit_items, leave_out=False)
        report_ex = collect(engine, report_items, leave_out=False)
    corpus_fit, corpus_report = list(fit_ex), list(report_ex)
    if alqac_laws:
        a_fit, a_report, folder = alqac_items(laws, questions, alqac_laws)
        with fresh_engine(settings, embedder, [folder]) as (engine, _):
            fit_ex += collect(engine, a_fit)
            report_ex += collect(engine, a_report)
    cal = rounded(fit(fit_ex))
    # The weights learn from every example; the threshold is the product's own: chosen on the corpus fit split.
    payload = calibration_report(cal, fit_ex, report_ex, out, threshold_on=corpus_fit, corpus_report=corpus_report,
                                 fit_sets=fit_sets, report_sets=report_sets, alqac_laws=alqac_laws,
                                 seconds=time.perf_counter() - started)
    typer.echo(json.dumps(payload, ensure_ascii=False, indent=2) if as_json else
               "\n".join(f"{k}: {v}" for k, v in payload.items()))


def train_command(
    ctx: typer.Context,
    laws: Annotated[Path, typer.Option("--laws", help="Folder of ALQAC law JSON files")] = DEFAULT_LAWS,
    questions: Annotated[Path, typer.Option("--questions", help="ALQAC questions JSON")] = DEFAULT_QUESTIONS,
    out: Annotated[Path, typer.Option("--out", help="Adapter folder to write")
                   ] = Path("rag/data/adapters/e5-small-alqac-lora"),
    limit_laws: Annotated[int, typer.Option("--limit-laws", min=0, help="Only the N smallest laws (0 = all)")] = 0,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N training questions")] = None,
    every_question: Annotated[bool, typer.Option("--all", help="Train on every question, the dev split too (the "
                                                 "shipped artifact, once the split's run chose the recipe): its "
                                                 "dev rows then score questions it saw")] = False,
    epochs: Annotated[int, typer.Option(min=1)] = 2,
    batch_size: Annotated[int, typer.Option("--batch-size", min=2)] = 16,
    rank: Annotated[int, typer.Option(min=1)] = 16,
    learning_rate: Annotated[float, typer.Option("--lr")] = 2e-4,
    scale: Annotated[float, typer.Option(help="Logit scale (1 / temperature)")] = 50.0,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=16)] = 256,
    verbose: VerboseOpt = False,
) -> None:
    """Train the LoRA adapter on ALQAC train (hard negatives from our retriever), score the held-out split
    with and without it, and write the adapter with its model card."""
    import sys
    from dataclasses import asdict

    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from evals.alqac import alqac_engine, load_laws, load_questions, ours_and_dense, split_questions
    from evals.bench.throughput import smallest_laws
    from evals.train import TrainConfig, mine_triples, train_adapter, write_model_card
    from rag.embed.bundled_e5 import materialize_bundled_e5
    from rag.settings import BUNDLED_MODEL

    setup_logging(verbose)
    for p in (laws, questions):
        if not p.exists():
            raise fail(f"no such path: {p}")
    state = context_of(ctx)
    settings = state.settings
    if settings.embedding_model != BUNDLED_MODEL:
        raise fail(f"the adapter is trained on {BUNDLED_MODEL}, not {settings.embedding_model!r}")
    base_settings = settings.model_copy(update={"embedding_adapter": "none"})
    config = TrainConfig(rank=rank, alpha=2 * rank, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, scale=scale, max_tokens=max_tokens)
    every_law = load_laws(laws)
    smallest = {law.law_id for law in smallest_laws(every_law, limit_laws or None)}
    chosen = [law for law in every_law if law.law_id in smallest]  # file order: the same store cache as eval-alqac
    everything, _ = load_questions(questions, [law.law_id for law in chosen])
    train_q, dev_q = split_questions(everything, config.dev_fraction)
    train_q = list(everything) if every_question else train_q
    train_q = train_q[:limit] if limit else train_q
    say = lambda msg: typer.echo(msg, err=True)  # noqa: E731
    started = time.perf_counter()
    base = state.embedder(base_settings)
    metrics: dict[str, dict[str, Any]] = {"dev": {}}
    with alqac_engine(base_settings, base, chosen) as (engine, law_of, _report, _cache):
        say(f"mining hard negatives for {len(train_q)} training questions ({len(chosen)} laws)")
        triples = mine_triples(engine, train_q, law_of, config)
        metrics["dev"].update((r.name, r.summary) for r in ours_and_dense(engine, dev_q, law_of, "untrained"))
    del base
    say(f"training on {len(triples)} triples")
    training = train_adapter(materialize_bundled_e5(settings.model_cache_dir), triples, config, out, progress=say)
    trained = state.embedder(settings.model_copy(update={"embedding_adapter": str(out)}))
    with alqac_engine(settings, trained, chosen) as (engine, law_of, _report, _cache):
        metrics["dev"].update((r.name, r.summary) for r in ours_and_dense(engine, dev_q, law_of, "trained"))
    data = {"questions_path": str(questions), "laws": len(chosen), "train_questions": len(train_q),
            "dev_questions": len(dev_q), "triples": len(triples), "dev_seen": every_question,
            "dev_ids": sorted(q.id for q in dev_q)}
    command = "policyqa " + " ".join(sys.argv[1:]) if sys.argv[1:] else "policyqa train"
    card = write_model_card(out, config=config, data=data, training=training, metrics=metrics, command=command)
    columns = ["n", "hit@1", "hit@5", "hit@10", "mrr@10", "f2@1", "latency_ms_p50", "latency_ms_p95"]
    typer.echo(format_rows(metrics["dev"], columns))
    typer.echo(f"adapter: {out}  model card: {card}  ({time.perf_counter() - started:.0f}s; "
               f"config {json.dumps(asdict(config))})")


def format_rows(runs: dict[str, dict[str, Any]], columns: list[str]) -> str:
    """A plain table of run summaries keyed by run name."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from evals.report import format_table

    return format_table([{"system": name, **summary} for name, summary in runs.items()], columns)
