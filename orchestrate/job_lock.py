"""Run a Meltano job under an exclusive lock: one run of the project's jobs at a time.

    python orchestrate/job_lock.py [--wait SECONDS] [--lock-file PATH] [--output FILE] \\
        -- meltano run daily

`make run` (scripts/run_local.sh, through orchestrate/run_job.py) runs the job under it,
and so does every step of the Airflow DAGs (orchestrate/airflow/dags/meltano_schedules.py,
with --wait), so a `make run` and a DAG step, or steps of two DAGs, never run at once on
one host.

Why a lock of our own (measured in tests/reliability/test_concurrent_runs.py):
- Meltano refuses a second run of a pipeline only while the first is inside its
  extract-load block; a second run started while the first is in dbt or the gate runs
  alongside it, and both then contend for the one DuckDB file.
- Every run of a project shares `.meltano/run/<plugin>/` (catalog, config files): two
  jobs running at once, even of different environments, can delete each other's files.
- After a `kill -9`, Meltano keeps the killed run marked as running, so a plain rerun
  is refused for five minutes ("Another ... pipeline is already running").

Holding the lock proves no other run of the project is alive, so the wrapper passes
Meltano's own `--force` (MELTANO_RUN_FORCE) to step over a killed run's stale record.
A run that is refused prints one line and exits 75 (EX_TEMPFAIL); `--wait` waits instead.
`--output FILE` appends the command's output to FILE and copies it to stdout as it comes:
the run log (orchestrate/run_log.py) takes a failed step's error tail from there.

The command runs in its own session. When it ends for any reason, processes it left
behind (a tap, a loader or dbt orphaned by a killed `meltano run`) are stopped before the
lock is released, so a rerun never meets them on the DuckDB file. Config files a killed
run left in `.meltano/run/` (Meltano writes secrets such as api_key there) are deleted.
If the wrapper itself is killed, the command keeps the lock (it inherits the descriptor)
until it exits; the next run under the lock deletes what was left.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EX_TEMPFAIL = 75
PR_SET_CHILD_SUBREAPER = 36
LEFTOVER_GRACE_SECONDS = 10.0


def _say(message: str) -> None:
    print(f"job_lock: {message}", file=sys.stderr, flush=True)


def run_dir() -> Path:
    """Meltano's `.meltano/run/` (MELTANO_SYS_DIR_ROOT moves `.meltano`)."""
    return Path(os.environ.get("MELTANO_SYS_DIR_ROOT") or ROOT / ".meltano") / "run"


def default_lock_file() -> Path:
    """One lock per project: all jobs share `.meltano/run/`, whatever the environment."""
    return run_dir() / "job.lock"


def holder(lock_file: Path) -> str:
    """Who holds the lock, from what the holder wrote into the file."""
    try:
        info = json.loads(lock_file.read_text() or "{}")
    except (OSError, ValueError):
        return "another process"
    return f"pid {info.get('pid')} running `{info.get('command')}` since {info.get('since')}"


def acquire(lock_file: Path, wait_seconds: float) -> int | None:
    """The locked descriptor, or None when another run still holds it after the wait."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_seconds
    announced = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() >= deadline:
            os.close(fd)
            return None
        if not announced:
            _say(f"waiting up to {wait_seconds:g} s for {holder(lock_file)}")
            announced = True
        time.sleep(0.2)


def record_holder(fd: int, command: list[str]) -> None:
    """Write into the locked file who holds it (this process, `command`), for holder()."""
    since = datetime.now(UTC).isoformat(timespec="seconds")
    info = json.dumps({"pid": os.getpid(), "command": " ".join(command), "since": since})
    os.ftruncate(fd, 0)
    os.pwrite(fd, info.encode(), 0)


# Meltano writes each plugin's config (secrets included) to .meltano/run/<plugin>/ as
# `<tap|target|...>.<run uuid>.config.json` and deletes it when the run ends normally.
RUN_CONFIG = re.compile(
    r"^[a-z]+\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.config\.json$"
)


def remove_stale_run_configs(run_dir: Path) -> list[Path]:
    """Delete config files a killed run left behind (they hold secrets in plain text).

    Only called while holding the project lock, so no other run of the project can own
    them."""
    removed = []
    for path in run_dir.glob("*/*.config.json"):
        if RUN_CONFIG.match(path.name):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def _become_subreaper() -> None:
    # Orphans of the command are then re-parented to us, so we can wait for them to exit.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _group_alive(pgid: int) -> bool:
    _reap()
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def stop_leftovers(pgid: int) -> bool:
    """SIGTERM what is left of the command's process group, SIGKILL it after a grace."""
    if not _group_alive(pgid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + LEFTOVER_GRACE_SECONDS
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        while _group_alive(pgid):
            time.sleep(0.05)
    return True


class _Relay:
    """Copies what the command appends to its output file onto our stdout.

    The command writes to the file, not to a pipe of ours, so it never dies of a broken
    pipe when we are killed; the file keeps the whole output (and its tail for the run log).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.sink = path.open("ab")
        self.source = path.open("rb")
        self.source.seek(0, os.SEEK_END)

    def pump(self) -> None:
        while chunk := self.source.read(65536):
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()

    def close(self) -> None:
        self.pump()
        self.sink.close()
        self.source.close()


def _wait(child: subprocess.Popen, relay: _Relay | None) -> int:
    if relay is None:
        return child.wait()
    while True:
        try:
            return child.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            relay.pump()


def run_locked(
    command: list[str],
    fd: int,
    run_dir: Path,
    output: Path | None = None,
    signals_seen: list[int] | None = None,
) -> int:
    """Run command while holding the lock on fd; its exit code (128+N after signal N).

    output: the file the command's stdout and stderr are appended to (and relayed from);
    signals_seen: collects the signals forwarded to the command."""
    if removed := remove_stale_run_configs(run_dir):
        _say(f"removed {len(removed)} config file(s) a killed run left in {run_dir}")
    env = dict(os.environ, MELTANO_RUN_FORCE="true")
    _become_subreaper()
    relay = _Relay(output) if output else None
    streams = {"stdout": relay.sink, "stderr": subprocess.STDOUT} if relay else {}
    child = subprocess.Popen(command, env=env, start_new_session=True, pass_fds=(fd,), **streams)

    def forward(signum: int, _frame: object) -> None:
        if signals_seen is not None:
            signals_seen.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signum)

    previous = {
        signum: signal.signal(signum, forward)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }
    try:
        returncode = _wait(child, relay)
        if stop_leftovers(child.pid):
            _say(f"stopped processes `{command[0]}` left behind (exit code {returncode})")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        if relay is not None:
            relay.close()
    if returncode != 0:
        remove_stale_run_configs(run_dir)
    return 128 - returncode if returncode < 0 else returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="job_lock.py", description="Run a command under the project's job lock."
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for a running job to finish (default: refuse at once)",
    )
    parser.add_argument("--lock-file", type=Path, help="lock file (default: .meltano/run/job.lock)")
    parser.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="append the command's output to FILE (and copy it to stdout as it comes)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("command: expected the command to run after --, e.g. -- meltano run daily")
    if args.wait < 0:
        parser.error(f"--wait: expected seconds >= 0, got {args.wait:g}")
    lock_file = args.lock_file or default_lock_file()
    fd = acquire(lock_file, args.wait)
    if fd is None:
        _say(
            f"not starting `{' '.join(command)}`: {holder(lock_file)} holds {lock_file}"
            + (f" (waited {args.wait:g} s)" if args.wait else "; use --wait SECONDS to wait")
        )
        return EX_TEMPFAIL
    try:
        record_holder(fd, command)
        return run_locked(command, fd, run_dir(), output=args.output)
    finally:
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
