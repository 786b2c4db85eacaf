"""Smoke test of the benchmarks: each runs end to end in --quick mode and ends with its
JSON line. Timings are never asserted here (speed is what `make bench` reports)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.project import QUICK_DIR  # noqa: E402
from bench.report import write_report  # noqa: E402

pytestmark = [pytest.mark.slow]

BENCHMARKS = {
    "tap_throughput": "tap_vs_raw_parse",
    "tap_memory": "tap_peak_rss_365_vs_7_days",
    "extract_load": "extract_load_vs_tap",
    "backfill": "source_paced_backfill",
    "backfill_memory": "backfill_memory_16_vs_1_windows",
    "dbt_daily": "dbt_daily_flat_in_history",
    "volume_scaling": "volume_scaling_time",
}
TIMEOUT_SECONDS = 900


@pytest.mark.parametrize(("module", "metric"), BENCHMARKS.items())
def test_benchmark_runs_quick_and_ends_with_its_json_line(
    module: str, metric: str, tmp_path: Path
) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:] + completed.stdout[-3000:]
    last = completed.stdout.strip().splitlines()[-1]
    line = json.loads(last)
    assert set(line) == {"metric", "ratio", "goal"}
    assert line["metric"] == metric
    assert isinstance(line["ratio"], float | int) and line["ratio"] > 0
    if line["goal"] is not None:  # None: a figure kept without a goal
        operator, _, bound = line["goal"].partition(" ")
        assert operator in {">=", "<="} and float(bound) > 0

    # The result file behind the line, and the page rendered from it.
    saved = json.loads((QUICK_DIR / f"{metric}.json").read_text())
    assert saved["ratio"] == line["ratio"] and saved["quick"] is True
    assert saved["machine"]["logical_cpus"] >= 1
    page = write_report(tmp_path / "benchmarks.md", QUICK_DIR).read_text()
    assert f"`{json.dumps(line)}`" in page
