"""The layers hold: import-linter's contracts (pyproject.toml) and the plain AST walk (tests/check_layers.py),
on this tree, and both fail on a copy of it with one deliberate back-import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.check_layers import LAYERS, violations
from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def copy_with_back_import(tmp_path: Path) -> Path:
    """The packages and pyproject.toml copied, with the store importing the command line."""
    for package in LAYERS:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    store = tmp_path / "rag" / "store" / "store.py"
    store.write_text(store.read_text(encoding="utf-8") + "\nfrom policyqa.cli import app  # noqa\n", encoding="utf-8")
    return tmp_path


def test_the_tree_keeps_its_layers() -> None:
    assert violations() == []
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_a_back_import_breaks_both_checks(copy_with_back_import: Path) -> None:
    found = violations(copy_with_back_import)
    assert any("rag imports the command line" in v and "rag/store/store.py" in v for v in found), found
    assert any(v.startswith("cycle: ") for v in found), found
    result = lint_imports(copy_with_back_import)
    assert result.returncode != 0
    assert "rag.store.store -> policyqa.cli" in result.stdout
