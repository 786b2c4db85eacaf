"""The local server takes clients that hang up (killed or timed-out taps) in its stride.

`kill -9` of a job resets the tap's connections. The server must log that as routine,
not print socketserver's ConnectionResetError traceback, and keep serving.
"""

from __future__ import annotations

import json
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.reliability]

SIMTOM_LOCAL = Path(sys.executable).parent / "simtom-local"
BODY = {"start_date": "2024-11-25", "end_date": "2024-12-01", "base_daily_volume": 50}


def reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN, as the kernel does for a killed process."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_clients_that_hang_up_leave_no_traceback(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    server = subprocess.Popen(
        [str(SIMTOM_LOCAL), "--port", "0", "--port-file", str(port_file), "--pace", "0.2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            assert server.poll() is None and time.monotonic() < deadline, "no port"
            time.sleep(0.05)
        port = int(port_file.read_text())
        body = json.dumps(BODY).encode()
        for _ in range(3):
            # An idle keep-alive connection reset after one answer...
            idle = socket.create_connection(("127.0.0.1", port))
            idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            idle.recv(4096)
            reset(idle)
            # ...and a stream reset in the middle of its body.
            streaming = socket.create_connection(("127.0.0.1", port))
            streaming.sendall(
                b"POST /stream/bnpl HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            streaming.recv(4096)
            reset(streaming)
        time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
            assert json.load(answer)["status"] == "healthy"
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
    assert "Traceback" not in stderr and "ConnectionResetError" not in stderr, stderr
