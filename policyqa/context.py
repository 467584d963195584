"""What every command receives from the root callback: one Settings, built at the edge, and the embedder
factory; plus the command line's logging set-up."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer

from rag.settings import Settings


@dataclass(frozen=True)
class CliContext:
    """Built once per invocation by the root callback (tests pass their own through `CliRunner.invoke(obj=…)`)."""

    settings: Settings
    make_embedder: Callable[[Settings], Any] | None = None  # None: the configured model (rag.runtime.load_embedder)

    def embedder(self, settings: Settings | None = None) -> Any:
        """The embedder for these settings (or the context's): loaded here, once per command."""
        if self.make_embedder is not None:
            return self.make_embedder(settings or self.settings)
        from rag.runtime import load_embedder  # deferred: it loads torch and chromadb, which --help never needs

        return load_embedder(settings or self.settings)


def context_of(ctx: typer.Context) -> CliContext:
    """The invocation's CliContext (set by the root callback)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        raise RuntimeError("the policyqa root callback did not run")
    return obj


def fail(message: object) -> typer.Exit:
    """Print `error: …` to stderr; the Exit(2) to raise (bad input, a store down, an unsafe bind)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def setup_logging(verbose: bool = False) -> None:
    """Warnings only (INFO with --verbose), and third-party libraries' chatter kept off the terminal."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # basicConfig does nothing once the root logger has a handler (the app's callback set one up, at WARNING):
    # the level is set again here, or --verbose would print nothing.
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    for handler in logging.getLogger().handlers:
        # bm25s sets its own logger to DEBUG when imported (lazily, after this): filter at the handler.
        handler.setLevel(logging.INFO if verbose else logging.WARNING)
    for noisy in ("bm25s", "httpx", "chromadb"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.WARNING)
    for chatty in ("sentence_transformers", "transformers"):  # model config dumps, even at INFO
        logging.getLogger(chatty).setLevel(logging.WARNING)
    if not verbose:
        # transformers draws a "Loading weights" bar on every model load; it is noise on a terminal.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:
            pass
