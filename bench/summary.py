"""Headline numbers of every benchmark, for `bench/all.py`'s one table.

Each bench script calls `record(...)` for the numbers that matter; when `bench/all.py` runs it, the
environment variable `AFFECT_BENCH_SUMMARY` names a JSON-lines file the records are appended to
(run alone, a script records nothing and prints only its own tables).
"""

from __future__ import annotations

import json
import os

SUMMARY_ENV = "AFFECT_BENCH_SUMMARY"


def record(area: str, measure: str, value: str, target: str = "", note: str = "") -> None:
    """One row of the summary: `area` (e.g. "lip sync"), what was measured, the value with its unit,
    the issue's target (if any) and a note (baseline ratio, conditions)."""
    path = os.environ.get(SUMMARY_ENV)
    if not path:
        return
    row = {"area": area, "measure": measure, "value": value, "target": target, "note": note}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
