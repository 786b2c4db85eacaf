"""Shared fixtures: the local simtom-compatible server over loopback, a threaded scripted one."""

from __future__ import annotations

import signal

import pytest
from pytest_httpserver import HTTPServer
from simtom_local import Faults, SimtomServer
from werkzeug.serving import WSGIRequestHandler


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


@pytest.fixture
def threaded_httpserver():
    # A stalled request must not hold up the retry behind it. werkzeug switches its shared
    # handler class to HTTP/1.1 for threaded servers; restore it for the other tests.
    before = vars(WSGIRequestHandler).get("protocol_version")
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()
    if before is None:
        if "protocol_version" in vars(WSGIRequestHandler):
            delattr(WSGIRequestHandler, "protocol_version")
    else:
        WSGIRequestHandler.protocol_version = before
