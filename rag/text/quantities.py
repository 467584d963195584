"""Graded quantities: the ranges a provision grades an act by and the quantities a question states.

A fines clause grades by speed over the limit, alcohol level, age or overload ("trên 20 km/h đến 35 km/h",
"từ đủ 14 tuổi đến dưới 16 tuổi", "vượt quá 0,25 miligam đến 0,4 miligam/1 lít khí thở"); a question states one
value ("chạy quá 25km/h", "thổi ra 0,3 mg/l", "con tôi 15 tuổi"). A value inside a provision's range of the
same unit means that provision is the one graded for it. Units and their spellings: rag/data/units.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from rag.text.normalize import fold_accents

__all__ = ["UNITS", "Quantity", "Range", "asked_quantities", "graded_ranges", "in_range_terms", "range_fit"]

UNITS = Path(__file__).parents[1] / "data" / "units.yaml"
_NUM = r"(\d+(?:[.,]\d+)?)"
_EPS = 1e-6


@dataclass(frozen=True)
class Quantity:
    """A value a question states, in a unit of the table; `raw` is the number as written ("0,3")."""

    value: float
    unit: str
    raw: str


@dataclass(frozen=True)
class Range:
    """A graded range of a provision: lo < v (or ≤ when lo_closed) and v < hi (or ≤); None is unbounded."""

    unit: str
    lo: float | None
    lo_closed: bool
    hi: float | None
    hi_closed: bool

    def contains(self, v: float) -> bool:
        above = self.lo is None or (v >= self.lo if self.lo_closed else v > self.lo)
        below = self.hi is None or (v <= self.hi if self.hi_closed else v < self.hi)
        return above and below


@dataclass(frozen=True)
class _Units:
    text: tuple[tuple[str, str], ...]  # (folded pattern source, unit), longest first
    question: tuple[tuple[str, str], ...]


def _alternation(forms: Iterable[tuple[str, str]]) -> str:
    return "|".join(re.escape(f) for f, _ in forms)


@lru_cache(maxsize=2)
def _load(path: Path = UNITS) -> _Units:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        def side(name: str) -> tuple[tuple[str, str], ...]:
            pairs = {(fold_accents(str(f)).lower(), unit) for unit, u in raw.items() for f in u[name]}
            return tuple(sorted(pairs, key=lambda p: -len(p[0])))
        return _Units(text=side("text"), question=side("question"))
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: each unit needs 'text' and 'question' spelling lists") from exc


def _number(raw: str) -> float:
    return float(raw.replace(",", "."))


@lru_cache(maxsize=2)
def _patterns(path: Path = UNITS) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    units = _load(path)
    text_units = _alternation(units.text)
    # "từ 10 km/h đến 20 km/h", "trên 20 km/h đến 35 km/h", "vượt quá 0,25 miligam đến 0,4 miligam/1 lít khí
    # thở", "từ đủ 14 tuổi đến dưới 16 tuổi", "trên 10% đến 20%": the unit is written after the upper bound.
    bounded = re.compile(rf"(tu du|tu|tren|vuot qua|vuot tren)\s+{_NUM}\s*[^\d;:.]{{0,12}}?\s*den\s+(duoi\s+)?"
                         rf"{_NUM}\s*({text_units})")
    # "trên 35 km/h", "vượt quá 80 miligam/100 mililít máu", "từ đủ 18 tuổi", "đủ 18 tuổi trở lên"
    above = re.compile(rf"(?<!chua )(?<!khong )(tu du|tren|vuot qua|vuot tren|du)\s+{_NUM}\s*({text_units})(?!\s*den)")
    # "chưa vượt quá 50 miligam/100 mililít máu", "dưới 16 tuổi", "không quá 10%"
    below = re.compile(rf"(chua vuot qua|khong vuot qua|khong qua|duoi)\s+{_NUM}\s*({text_units})")
    asked = re.compile(rf"(?:(hon|tren|qua|vuot|vuot qua)\s+)?{_NUM}\s*({_alternation(units.question)})(?!\w)")
    return bounded, above, below, asked


def _unit_of(form: str, table: Sequence[tuple[str, str]]) -> str:
    return next(unit for f, unit in table if f == form)


def graded_ranges(text: str, path: Path = UNITS) -> list[Range]:
    """The graded ranges a provision's text states."""
    folded = fold_accents(text).lower()
    units = _load(path)
    bounded, above, below, _ = _patterns(path)
    found: list[Range] = []
    spans: list[tuple[int, int]] = []
    for m in bounded.finditer(folded):
        found.append(Range(_unit_of(m.group(5), units.text), _number(m.group(2)), m.group(1).startswith("tu"),
                           _number(m.group(4)), m.group(3) is None))
        spans.append(m.span())
    for pattern, is_above in ((above, True), (below, False)):
        for m in pattern.finditer(folded):
            if any(a <= m.start() < b for a, b in spans):
                continue  # the lower bound of a bounded range, already read
            unit, v = _unit_of(m.group(3), units.text), _number(m.group(2))
            if is_above:
                found.append(Range(unit, v, m.group(1) in ("tu du", "du"), None, False))
            else:
                found.append(Range(unit, None, False, v, m.group(1) != "duoi"))
    return found


def asked_quantities(question: str, path: Path = UNITS) -> list[Quantity]:
    """The graded quantities a question states ("hơn 20 km/h" is just above 20)."""
    folded = fold_accents(question).lower()
    units = _load(path)
    *_, asked = _patterns(path)
    out = []
    for m in asked.finditer(folded):
        v = _number(m.group(2)) + (_EPS if m.group(1) else 0.0)
        out.append(Quantity(v, _unit_of(m.group(3), units.question), m.group(2)))
    return out


def range_fit(quantities: Sequence[Quantity], text: str) -> int:
    """+1 when the text grades one of the quantities with a range that holds it, -1 when it grades that unit
    only with ranges that do not, 0 when it grades none of their units."""
    if not quantities:
        return 0
    ranges = graded_ranges(text)
    fit = 0
    for q in quantities:
        same = [r for r in ranges if r.unit == q.unit]
        if any(r.contains(q.value) for r in same):
            return 1
        if same:
            fit = -1
    return fit


def in_range_terms(quantities: Sequence[Quantity], texts: Sequence[str]) -> set[str]:
    """The question's numbers (folded terms: "0,3" is also "0" and "3") that some text's range of the same
    unit holds."""
    ranges = [r for t in texts for r in graded_ranges(t)]
    held = [q.raw for q in quantities if any(r.unit == q.unit and r.contains(q.value) for r in ranges)]
    return {*held, *(part for raw in held for part in re.findall(r"\d+", raw))}
