"""Install, start and stop the local BigQuery emulator (PyPI `local-bigquery`), offline.

Test-only. The emulator needs Python 3.13, so it lives in its own venv under
.cache/bq-emulator/ (gitignored) and runs as a separate process on loopback ports.
DuckDB extensions come from wheels and are installed into a HOME of its own, so start-up
never reaches for the network.

    python tests/bigquery/emulator.py install     # idempotent; prints the seconds it took
    python tests/bigquery/emulator.py serve       # foreground, ports 9050 (REST) / 9060 (gRPC)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("BNPL_BQ_EMULATOR_CACHE", ROOT / ".cache" / "bq-emulator"))
REQUIREMENTS = Path(__file__).with_name("emulator-requirements.txt")
VENV = CACHE / "venv"
HOME = CACHE / "home"
STAMP = VENV / ".installed"
PROJECT = "bnpl-local"


class EmulatorError(RuntimeError):
    """The emulator could not be installed or did not come up."""


def python313() -> Path:
    """The Python 3.13 interpreter the emulator needs (BNPL_PYTHON313 overrides)."""
    candidates = [os.environ.get("BNPL_PYTHON313", "")]
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True)
        candidates += sorted(
            map(str, Path(root.stdout.strip(), "versions").glob("3.13*/bin/python"))
        )
    except (OSError, subprocess.CalledProcessError):
        pass
    candidates.append(shutil.which("python3.13") or "")
    for candidate in filter(None, candidates):
        # A pyenv shim exists even where that version is not selected: ask it to run.
        probe = subprocess.run([candidate, "--version"], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.startswith("Python 3.13"):
            return Path(candidate)
    raise EmulatorError("python3.13 not found: the emulator needs it (set BNPL_PYTHON313)")


def _requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def installed() -> bool:
    return STAMP.is_file() and STAMP.read_text().strip() == _requirements_digest()


def install() -> float:
    """Create the venv and install the pinned emulator; returns seconds spent (0 if current)."""
    if installed():
        return 0.0
    started = time.monotonic()
    if VENV.exists():
        shutil.rmtree(VENV)
    CACHE.mkdir(parents=True, exist_ok=True)
    python = str(VENV / "bin" / "python")
    # uv comes with Meltano in the project venv and installs this in seconds; pip takes ~70 s.
    uv = Path(sys.executable).with_name("uv")
    if uv.is_file():
        subprocess.run(
            [str(uv), "venv", "--quiet", "--python", str(python313()), str(VENV)], check=True
        )
        subprocess.run(
            [
                str(uv),
                "pip",
                "install",
                "--quiet",
                "--compile-bytecode",
                "--python",
                python,
                "-r",
                str(REQUIREMENTS),
            ],
            check=True,
        )
    else:
        subprocess.run([str(python313()), "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(REQUIREMENTS),
            ],
            check=True,
        )
    # Copy the extension binaries from the wheels into HOME/.duckdb, where DuckDB looks first.
    HOME.mkdir(parents=True, exist_ok=True)
    script = (
        "import duckdb, glob, sys\n"
        "con = duckdb.connect()\n"
        "paths = glob.glob(sys.argv[1] + '/duckdb_extension_*/extensions/*/*.duckdb_extension')\n"
        "assert paths, 'no duckdb extension wheels installed'\n"
        "for path in paths:\n"
        "    con.execute(f\"INSTALL '{path}'\")\n"
    )
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        [python, "-c", script, site],
        env={**os.environ, "HOME": str(HOME)},
        check=True,
    )
    STAMP.write_text(_requirements_digest())
    return time.monotonic() - started


HOOK_DIR = Path(__file__).resolve().with_name("emulator_hook")
HOOK_PTH = "bnpl_bq_emulator_hook.pth"


def install_hook(venv: Path) -> Path:
    """Make a plugin venv import the emulator hook at start-up (inert without its env vars).

    A .pth file, because Meltano removes PYTHONPATH from every plugin's environment.
    """
    site = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    pth = Path(site) / HOOK_PTH
    content = f"{HOOK_DIR}\nimport bq_emulator_hook\n"
    if not pth.is_file() or pth.read_text() != content:
        # Replaced whole: an xdist worker may start a plugin while another writes the file.
        temporary = pth.with_name(f"{HOOK_PTH}.{os.getpid()}.tmp")
        temporary.write_text(content)
        temporary.replace(pth)
    return pth


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Emulator:
    """A running emulator process."""

    process: subprocess.Popen
    rest_port: int
    grpc_port: int
    data_dir: Path
    log_path: Path
    startup_seconds: float

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(data_dir: Path, log_path: Path, timeout: float = 60.0) -> Emulator:
    """Start the emulator on free loopback ports and wait until its REST API answers."""
    if not installed():
        raise EmulatorError(
            "the emulator is not installed: python tests/bigquery/emulator.py install"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    rest_port, grpc_port = free_port(), free_port()
    started = time.monotonic()
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            str(VENV / "bin" / "local-bigquery"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(rest_port),
            "--grpc-port",
            str(grpc_port),
            "--project",
            PROJECT,
            "--data-dir",
            str(data_dir),
        ],
        env={**os.environ, "HOME": str(HOME)},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    emulator = Emulator(process, rest_port, grpc_port, data_dir, log_path, 0.0)
    probe = f"{emulator.rest_url}/bigquery/v2/projects/{PROJECT}/datasets"
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise EmulatorError(
                f"emulator exited with {process.returncode}: {log_path.read_text()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(probe, timeout=2) as response:
                if response.status == 200:
                    emulator.startup_seconds = time.monotonic() - started
                    return emulator
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    emulator.stop()
    raise EmulatorError(f"emulator did not answer within {timeout:.0f} s: {log_path}")


def copy_data(source: Path, destination: Path) -> None:
    """Copy a stopped emulator's data folder to DESTINATION, for another emulator to start on.

    Each project's DuckLake catalog keeps its data folder as an absolute path (file paths
    are relative to it): the copy's catalogs are pointed at the copy's folders.
    """
    import duckdb  # the project venv's; the catalogs are DuckDB files of the same version

    shutil.copytree(source, destination)
    for catalog in destination.glob("*.ducklake"):
        con = duckdb.connect(str(catalog))
        try:
            con.execute(
                "UPDATE ducklake_metadata SET value = ? WHERE key = 'data_path'",
                [f"{destination / catalog.stem}/"],
            )
        finally:
            con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["install", "serve"])
    parser.add_argument("--data-dir", type=Path, default=CACHE / "data")
    args = parser.parse_args(argv)
    seconds = install()
    print(f"emulator installed in {VENV} ({seconds:.1f} s)")
    if args.command == "serve":
        os.execve(
            VENV / "bin" / "local-bigquery",
            [
                "local-bigquery",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "9050",
                "--grpc-port",
                "9060",
                "--project",
                PROJECT,
                "--data-dir",
                str(args.data_dir),
            ],
            {**os.environ, "HOME": str(HOME)},
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
