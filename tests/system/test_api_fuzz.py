"""Property-based fuzzing of the OpenAPI document with schemathesis: no input may cause a 5xx."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from tests.conftest import CORPUS, make_settings

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 30
STATS: dict[str, Counter[int]] = defaultdict(Counter)
CHECKS = [
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def api_app(embedder, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Any]:  # noqa: ANN001
    from ingest.pipeline import ingest_paths
    from rag.runtime import open_runtime

    # Small limits so the fuzzer reaches them; a high rate limit so it does not spend its cases on 429s.
    cfg = make_settings(
        tmp_path_factory.mktemp("fuzz"),
        rate_limit_per_minute=1_000_000,
        max_question_chars=500,
        max_upload_bytes=64 * 1024,
        max_upload_files=3,
    )
    engine = open_runtime(cfg, embedder=embedder)
    assert not ingest_paths(engine.store, [CORPUS]).failed
    yield create_app(cfg, engine)
    engine.close()
    _report(request.config)


def _report(config: pytest.Config) -> None:
    """Print the numbers (operations, cases, statuses) past output capture."""
    cases = sum(sum(c.values()) for c in STATS.values())
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not cases:
        return
    server_errors = sum(n for c in STATS.values() for s, n in c.items() if s >= 500)
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"\nschemathesis: {len(STATS)} operations, {cases} cases, {server_errors} 5xx")
        for op, counts in sorted(STATS.items()):
            reporter.write_line(f"  {op}: {dict(sorted(counts.items()))}")


# The OpenAPI document needs no engine, so it is built at import; the cases run against `api_app`.
# (schemathesis' lazy `from_fixture` loader relies on a pytest attribute that pytest 9 removed.)
schema = schemathesis.openapi.from_dict(create_app(make_settings(CORPUS / ".unused")).openapi())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_no_server_error_and_conforms(case: Any, api_app: Any) -> None:
    response = case.call(app=api_app, timeout=60)
    STATS[case.operation.label][response.status_code] += 1
    if case.method == "DELETE" and response.status_code == 200:
        # The schema's example id is the seed dispatch: put it back so later cases still have a document.
        from ingest.pipeline import ingest_paths

        ingest_paths(api_app.state.engine.store, [CORPUS])
    assert response.status_code < 500, f"{case.operation.label} -> {response.status_code}: {response.text[:500]}"
    case.validate_response(response, checks=CHECKS)
