"""The parser child process: each DOCX/PDF/HTML/image parse (OCR included) runs killable, time-bounded and
memory-capped; OCR pages report progress, and each page report renews the deadline by one page's time limit."""

from __future__ import annotations

import logging
import multiprocessing
import sys
from functools import lru_cache
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any

from ingest.load.extract import _EXTRACTORS
from ingest.load.limits import PARSER_MEMORY_BYTES, LoadError, LoadLimits, _printable, _size
from ingest.load.pages import Extracted, Progress

RENDER_MARGIN_S = 15.0  # beyond the OCR page limit: rendering the next page and assembling the text

log = logging.getLogger(__name__)


def _cap_memory(limit: int) -> None:
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    except (ImportError, ValueError, OSError):
        pass  # no such limit on this platform: the time limit still holds


def _parse_in_child(conn: Connection, fmt: str, data: bytes, limits: LoadLimits) -> None:
    """Body of the parser process: send ("progress", done, total)…, then ("ok", Extracted) or ("refused", reason)."""
    _cap_memory(PARSER_MEMORY_BYTES)
    outcome: tuple[str, Any]
    try:
        outcome = ("ok", _EXTRACTORS[fmt](data, limits, lambda done, total: conn.send(("progress", done, total))))
    except LoadError as exc:
        outcome = ("refused", str(exc))
    except MemoryError:
        outcome = ("refused", f"{fmt.upper()} parser ran out of memory ({_size(PARSER_MEMORY_BYTES)} per file)")
    except Exception as exc:  # third-party parsers raise anything on corrupt input
        outcome = ("refused", f"cannot read {fmt.upper()} ({exc.__class__.__name__}: {_printable(str(exc))})")
    conn.send(outcome)
    conn.close()


@lru_cache(maxsize=1)
def _parser_context() -> BaseContext:
    # forkserver: each parser forks (~15 ms) from a small, clean server process, never from this one, which may
    # hold threads and a loaded model. multiprocessing re-runs the main script in every child (imports only,
    # behind its `if __name__ == "__main__":`); preloading the main script or module imports what it imports once,
    # in the server, so that is free for each child of the `policyqa` command (or whatever program is running).
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)  # set under `python -m package`
    main_module = [main_spec.name] if main_spec is not None and main_spec.name != "__main__" else []
    ctx.set_forkserver_preload(["__main__", *main_module, "ingest.load.sandbox", "ingest.load.extract", "pypdf",
                                "docx", "bs4", "PIL.Image", "numpy", "pytesseract", "pypdfium2"])
    return ctx


def _run_bounded(fmt: str, data: bytes, limits: LoadLimits, timeout_s: float,
                 progress: Progress | None = None) -> Extracted:
    # A parser on hostile input can loop or balloon within every size limit (a 15 kB PDF whose page inflates
    # to 75 MB of operators keeps pypdf busy ~75 s a page). A thread cannot be stopped, so each parse runs in
    # a child process that is killed at the deadline and capped in memory; a crash there is only a refusal.
    ctx = _parser_context()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_parse_in_child, args=(sender, fmt, data, limits), daemon=True,  # type: ignore[attr-defined]
                       name=f"policyqa-parse-{fmt}")
    try:
        proc.start()
    except Exception as exc:  # no forkserver, a daemonic caller, a child that died while reading its input
        receiver.close()
        sender.close()
        raise LoadError(f"could not start the {fmt.upper()} parser process ({exc.__class__.__name__}: "
                        f"{_printable(str(exc))})") from exc
    try:
        sender.close()
        wait, ocr = timeout_s, False
        while True:
            if not receiver.poll(wait):
                if ocr:
                    raise LoadError(f"OCR of one page took over {wait:g}s (POLICYQA_OCR_PAGE_TIMEOUT_S "
                                    f"{limits.ocr_page_timeout_s:g}s + {RENDER_MARGIN_S:g}s to render it)")
                raise LoadError(f"{fmt.upper()} parser timed out after {timeout_s:g}s (POLICYQA_PARSE_TIMEOUT_S)")
            try:
                message = receiver.recv()
            except EOFError:
                proc.join(timeout=5)
                log.warning("%s parser process ended without an answer (exit code %s); a script that loads files "
                            "must keep its top-level code under `if __name__ == '__main__':`", fmt, proc.exitcode)
                raise LoadError(f"{fmt.upper()} parser crashed (exit code {proc.exitcode})") from None
            if message[0] != "progress":
                status, payload = message
                break
            wait, ocr = limits.ocr_page_timeout_s + RENDER_MARGIN_S, True  # OCR pages: a deadline per page
            if progress is not None:
                progress(message[1], message[2])
    finally:
        receiver.close()
        if proc.is_alive():
            proc.kill()
        proc.join()
    if status != "ok":
        raise LoadError(str(payload))
    return payload  # type: ignore[no-any-return]
