"""Shared fixtures: the local simtom-compatible server over loopback."""

from __future__ import annotations

import signal

import pytest
from simtom_local import Faults, SimtomServer


@pytest.fixture(scope="session")
def simtom_server():
    with SimtomServer(port=0, pace_seconds=0.0) as server:
        yield server


@pytest.fixture
def simtom(simtom_server: SimtomServer) -> SimtomServer:
    """The session's server with no faults and an empty request log."""
    simtom_server.set_faults(Faults())
    simtom_server.clear_requests()
    yield simtom_server
    simtom_server.set_faults(Faults())


@pytest.fixture(autouse=True)
def _keep_signal_handlers():
    # Constructing a tap installs the SDK's SIGINT/SIGTERM handlers; give pytest its own back.
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
