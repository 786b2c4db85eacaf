"""A simtom-compatible BNPL server for tests, benchmarks and offline runs.

It speaks simtom's wire format (``data: {json}\\n\\n`` lines, chunked ``text/plain``),
its validation errors and its determinism (a day's count from seed, date and volume; the
contents from the whole request), with optional day pacing and fault switches.

    from simtom_local import Faults, SimtomServer

    with SimtomServer(pace_seconds=0.0, faults=Faults(fail_first=2)) as server:
        ...  # point the tap's api_url at server.url
"""

from .faults import Faults
from .server import SimtomServer

__all__ = ["Faults", "SimtomServer"]
