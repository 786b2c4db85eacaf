"""The repository's Meltano project, isolated: own system database, warehouse and dbt folders.

Nothing a benchmark runs touches the developer's state, `output/bnpl.duckdb` or
`transform/target`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.processes import Finished, run_timed
from bench.project import MELTANO, SYS_DIR, BenchError, child_env, dev_tap_config, require
from bench.server import SimtomProcess

LOADER = "target-duckdb-append"
# `meltano run` of the extract-load step alone, re-extracting its whole range every time.
EXTRACT_LOAD_ARGS = ("run", "--no-state-update", "--full-refresh", "tap-simtom-bnpl", LOADER)

# The tap settings that decide what a run requests and how: RECORD-mode runs set them all,
# so prod's values (its start_date, its parallel requests) never leak into a measurement.
WORKLOAD_SETTINGS = (
    "seed",
    "base_daily_volume",
    "start_date",
    "end_date",
    "window_days",
    "max_parallel_requests",
)

# Environment variables of the caller that would steer a benchmark's Meltano runs elsewhere.
_LEAKY_PREFIXES = ("TAP_SIMTOM_BNPL_", "TARGET_DUCKDB_APPEND_", "DBT_", "BNPL_")
_LEAKY_NAMES = (
    "MELTANO_ENVIRONMENT",
    "MELTANO_DATABASE_URI",
    "MELTANO_STATE_BACKEND_URI",
    "MELTANO_SYS_DIR_ROOT",
)


@dataclass
class IsolatedMeltano:
    """The repository's Meltano project with its own system database, warehouse and dbt folders.

    Nothing a benchmark runs touches the developer's state, `output/bnpl.duckdb` or
    `transform/target`.
    """

    workdir: Path
    api_url: str
    duckdb_path: Path
    overrides: dict[str, str] = field(default_factory=dict)

    def sys_dir(self) -> Path:
        """A Meltano system directory of this run's own, sharing the installed plugin venvs.

        Meltano writes each run's plugin files (config, discovered catalog) under
        `<sys dir>/run/<plugin>/`: two runs of the same project at the same time overwrite
        each other's catalog there. The venvs are linked, never copied or reinstalled.
        """
        sys_dir = self.workdir / "meltano-sys"
        for kind in ("extractors", "loaders", "utilities"):
            link = sys_dir / kind
            if not link.exists():
                sys_dir.mkdir(parents=True, exist_ok=True)
                link.symlink_to(SYS_DIR / kind, target_is_directory=True)
        return sys_dir

    @property
    def batch_dir(self) -> Path:
        """Where the tap writes its batch files in this run's dev (BATCH mode) configuration."""
        return self.workdir / "batches"

    def batch_files(self) -> list[Path]:
        """Batch data files in batch_dir (the tap's lock file holds no rows)."""
        if not self.batch_dir.exists():
            return []
        return [p for p in self.batch_dir.iterdir() if p.is_file() and ".jsonl" in p.name]

    def record_mode(self) -> tuple[tuple[str, ...], dict[str, str]]:
        """Meltano options and variables for the dev configuration with the tap in RECORD mode.

        A variable for an object setting is merged into meltano.yml's value, so dev's
        batch_config cannot be switched off from outside, and `meltano run` needs an
        environment: the run selects prod (whose tap has no batch_config) and sets the dev
        tap settings that shape the workload itself. prod's request_timeout and max_retries
        stay: they only matter when requests fail, and the run checks that none did.
        """
        dev = dev_tap_config()
        settings = {f"TAP_SIMTOM_BNPL_{key.upper()}": str(dev[key]) for key in WORKLOAD_SETTINGS}
        settings.update(self.overrides)
        settings["MELTANO_ENVIRONMENT"] = "prod"
        settings["TAP_SIMTOM_BNPL_BATCH_CONFIG"] = ""  # unset: see env()
        return ("--environment=prod",), settings

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in child_env().items()
            if not key.startswith(_LEAKY_PREFIXES) and key not in _LEAKY_NAMES
        }
        env.update(
            {
                "MELTANO_ENVIRONMENT": "dev",
                "MELTANO_SYS_DIR_ROOT": str(self.sys_dir()),
                "MELTANO_DATABASE_URI": f"sqlite:///{self.workdir / 'meltano.db'}",
                "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
                "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
                "BNPL_DUCKDB_PATH": str(self.duckdb_path),
                "BNPL_QUALITY_REPORT_DIR": str(self.workdir / "reports"),
                "DBT_TARGET_PATH": str(self.workdir / "dbt-target"),
                "DBT_LOG_PATH": str(self.workdir / "dbt-logs"),
                "TAP_SIMTOM_BNPL_API_URL": self.api_url,
                # dev's batch_config with the files in this run's folder (Meltano merges it
                # into meltano.yml's value, so the encoding stays dev's).
                "TAP_SIMTOM_BNPL_BATCH_CONFIG": json.dumps(
                    {"storage": {"root": self.batch_dir.as_uri(), "prefix": "bench-"}}
                ),
            }
        )
        env.update(self.overrides)
        env.update(extra)
        # An empty value in `extra` unsets the variable rather than passing it empty.
        for key in [key for key, value in extra.items() if value == ""]:
            del env[key]
        return env

    def run(
        self,
        name: str,
        *args: str,
        sample: bool = False,
        stdout_to_null: bool = False,
        **extra: str,
    ) -> Finished:
        """`meltano ARGS`, timed, output in `<workdir>/<name>.log`; fails loudly.

        With `sample`, the CPU time and RSS of every process under Meltano (tap, target,
        dbt) are sampled while it runs. With `stdout_to_null`, stdout goes to /dev/null
        (a tap's messages) and only stderr to the log.
        """
        require(MELTANO)
        log_path = self.workdir / f"{name}.log"
        return run_timed(
            [str(MELTANO), *args],
            log_path,
            stdout=None if stdout_to_null else log_path,
            env=self.env(**extra),
            sample=sample,
        ).check()


def raw_row_count(duckdb_path: Path, table: str = "transactions") -> int:
    """Rows the loader wrote to raw.<table>."""
    import duckdb

    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]
    finally:
        con.close()


# A plugin's line in Meltano's log:
# '2026-12-04T21:07:26.522704Z [info     ] target-duckdb-append Com...'
_PLUGIN_LINE = re.compile(r"^(\S+Z) \[[^]]*\] (\S+) (.*)$")


@dataclass
class ExtractLoad:
    """One timed `meltano run tap-simtom-bnpl target-duckdb-append` and its checked row counts."""

    finished: Finished
    sent: int
    loaded: int

    @property
    def seconds(self) -> float:
        return self.finished.seconds

    def cpu_by_process(self) -> dict[str, float]:
        assert self.finished.sampler is not None
        return self.finished.sampler.cpu_by_label()

    def cpu_per_1000_records(self) -> dict[str, float]:
        """CPU seconds per 1000 loaded rows, by process (meltano, tap, target)."""
        return {
            label: round(1000 * seconds / self.loaded, 4)
            for label, seconds in self.cpu_by_process().items()
        }

    def loader_seconds_after_tap(self) -> float | None:
        """Seconds from the tap's last line (its summary) to the loader's final checkpoint.

        The work the loader still had when the source was done: the files not yet inserted,
        the last commit and the final checkpoint. Read from the timestamps Meltano puts on
        both plugins' log lines; None if either line is missing.
        """
        tap_done = loader_done = None
        for line in self.finished.log_path.read_text(errors="replace").splitlines():
            match = _PLUGIN_LINE.match(line)
            if match is None:
                continue
            stamp, plugin, message = match.groups()
            if plugin == "tap-simtom-bnpl" and message.startswith("Extracted "):
                tap_done = datetime.fromisoformat(stamp)
            elif plugin == LOADER and message.startswith("Checkpointed the database"):
                loader_done = datetime.fromisoformat(stamp)
        if tap_done is None or loader_done is None:
            return None
        return round((loader_done - tap_done).total_seconds(), 2)


def extract_load(
    meltano: IsolatedMeltano,
    server: SimtomProcess,
    name: str,
    *,
    expected: int | None = None,
    options: tuple[str, ...] = (),
    **extra: str,
) -> ExtractLoad:
    """Run the extract-load step, sampled, and check its rows before anyone uses its time.

    The server's own count of what it streamed, the rows in the run's raw.transactions
    and `expected` (another run's count of the same days, if given) must all agree, and no
    batch file may be left behind: a fast run that lost rows must not count as fast.
    """
    database = Path(extra.get("BNPL_DUCKDB_PATH", meltano.duckdb_path))
    mark = server.log_mark()
    finished = meltano.run(name, *options, *EXTRACT_LOAD_ARGS, sample=True, **extra)
    sent = server.records_sent(since=mark)
    loaded = raw_row_count(database)
    if loaded == 0 or sent != loaded or (expected is not None and expected != loaded):
        also = "" if expected is None else f", the other runs counted {expected}"
        raise BenchError(
            f"{name}: the server sent {sent} records and raw.transactions holds {loaded}{also}: "
            "the runs are not comparable"
        )
    leftover = meltano.batch_files()
    if leftover:
        raise BenchError(f"{name}: {len(leftover)} batch files left behind, e.g. {leftover[0]}")
    return ExtractLoad(finished, sent, loaded)


def extract_load_command() -> list[str]:
    """The extract-load step as a command line (for the profiler)."""
    return [str(MELTANO), *EXTRACT_LOAD_ARGS]
