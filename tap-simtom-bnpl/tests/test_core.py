"""The Singer SDK's standard tap tests against the local simtom-compatible server.

Two lines of every response are bad (one torn, one with a text amount) so that the
quarantine stream has records to test as well; max_rejected_share is raised so that the
day holding them (2 of about 30 lines) is loaded rather than failing the run.
"""

from __future__ import annotations

import atexit

from harness import END, START
from simtom_local import Faults, SimtomServer
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_simtom_bnpl.tap import TapSimtomBnpl

# get_tap_test_class needs the config when the module is imported, so the server starts here.
SERVER = SimtomServer(
    port=0, pace_seconds=0.0, faults=Faults(malformed_at=[4], non_numeric_amount_at=[9])
).start()
atexit.register(SERVER.stop)

TestTapSimtomBnpl = get_tap_test_class(
    TapSimtomBnpl,
    config={
        "api_url": SERVER.url,
        "start_date": START,
        "end_date": END,
        "base_daily_volume": 30,
        "seed": 42,
        "max_rejected_share": 0.2,
    },
    suite_config=SuiteConfig(max_records_limit=100),
)
