"""Run the tap under tracemalloc and write its peak and largest live allocations as JSON.

Runs inside the tap's plugin venv (it imports the tap), for the memory benchmark's profile:

    <tap venv>/bin/python bench/tracemalloc_tap.py OUT.json --config config.json
"""

from __future__ import annotations

import json
import sys
import tracemalloc
from pathlib import Path

FRAMES = 6
TOP = 12


def main() -> None:
    out = Path(sys.argv[1])
    sys.argv = ["tap-simtom-bnpl", *sys.argv[2:]]
    tracemalloc.start(FRAMES)
    from tap_simtom_bnpl.tap import TapSimtomBnpl

    try:
        TapSimtomBnpl.cli(standalone_mode=False)
    finally:
        current, peak = tracemalloc.get_traced_memory()
        stats = tracemalloc.take_snapshot().statistics("traceback")[:TOP]
        out.write_text(
            json.dumps(
                {
                    "tool": "tracemalloc (Python allocations only)",
                    "traced_peak_mib": round(peak / 2**20, 1),
                    "traced_at_end_mib": round(current / 2**20, 1),
                    "largest_live_allocations_at_end": [
                        {
                            "mib": round(stat.size / 2**20, 2),
                            "blocks": stat.count,
                            "where": [
                                f"{frame.filename}:{frame.lineno}" for frame in stat.traceback
                            ],
                        }
                        for stat in stats
                    ],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
