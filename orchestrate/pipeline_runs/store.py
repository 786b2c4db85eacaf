"""The run log over one warehouse: the SQL both warehouses share, a run's end and the sweep
of killed runs. A warehouse supplies only how to run a statement (warehouse stores)."""

from __future__ import annotations

import abc
import socket
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from .notice import notify_failure
from .record import IDENTITY, STATUSES, Loaded, Run, process_alive, read_tail, say, utc_now

# Run times are kept to the second, rounded down: a run's window of raw rows ends one second
# after its recorded end, so rows requested in its last second still count.
END_MARGIN = timedelta(seconds=1)


class RunLog(abc.ABC):
    """pipeline_runs in one warehouse. Each call is short: no connection is kept open,
    because the DuckDB file has one writer and the job's steps need it in between."""

    #: The qualified name of pipeline_runs in SQL.
    table: str

    @abc.abstractmethod
    def _mark(self, name: str) -> str:
        """The placeholder of the query parameter `name`."""

    @abc.abstractmethod
    def _rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows of a query, as dicts, TIMESTAMPs as naive UTC datetimes."""

    @abc.abstractmethod
    def _write(self, sql: str, params: dict[str, Any]) -> int:
        """Run an INSERT or UPDATE; the number of rows it changed."""

    @abc.abstractmethod
    def _raw_table(self, name: str) -> str | None:
        """The qualified name of a raw table the tap's loader wrote, None if there is none."""

    def start(self, run: Run) -> None:
        """Insert the run as `running`; a run id seen before (an Airflow run cleared and
        run again) goes back to `running`."""
        reopened = self._write(
            f"UPDATE {self.table} SET status = 'running', ended_at = NULL, failing_step = NULL, "
            f"exit_code = NULL, error_tail = NULL WHERE run_id = {self._mark('run_id')}",
            {"run_id": run.run_id},
        )
        if not reopened:
            row = asdict(run)
            names = ", ".join(row)
            marks = ", ".join(self._mark(name) for name in row)
            self._write(f"INSERT INTO {self.table} ({names}) VALUES ({marks})", row)

    def set_step(self, run_id: str, step: str) -> None:
        """The step the run is in now."""
        self._write(
            f"UPDATE {self.table} SET current_step = {self._mark('current_step')} "
            f"WHERE run_id = {self._mark('run_id')}",
            {"current_step": step, "run_id": run_id},
        )

    def _select(self, where: str, params: dict[str, Any]) -> list[Run]:
        return [Run(**row) for row in self._rows(f"SELECT * FROM {self.table} {where}", params)]

    def get(self, run_id: str) -> Run | None:
        """The row of run_id."""
        found = self._select(f"WHERE run_id = {self._mark('run_id')}", {"run_id": run_id})
        return found[0] if found else None

    def running(self) -> list[Run]:
        """Every row still `running`."""
        return self._select("WHERE status = 'running' ORDER BY started_at", {})

    def next_start(self, after: datetime) -> datetime | None:
        """When the first run started after `after` (where a killed run's window ends)."""
        (row,) = self._rows(
            f"SELECT min(started_at) AS first_start FROM {self.table} "
            f"WHERE started_at > {self._mark('after')}",
            {"after": after},
        )
        return row["first_start"]

    def loaded(self, since: datetime, until: datetime) -> Loaded:
        """Days and transactions the tap requested from `since` until before `until` and
        raw holds (nothing, where the loader has not created a table yet)."""
        window = f"requested_at >= {self._mark('since')} AND requested_at < {self._mark('until')}"
        params = {"since": since, "until": until}
        days: dict[str, Any] = {"days": 0, "first_day": None, "last_day": None}
        rows = 0
        if log := self._raw_table("extraction_log"):
            (days,) = self._rows(
                "SELECT count(DISTINCT extraction_date) AS days, "
                "min(extraction_date) AS first_day, max(extraction_date) AS last_day "
                f"FROM {log} WHERE {window}",
                params,
            )
        if transactions := self._raw_table("transactions"):
            (counted,) = self._rows(
                f"SELECT count(*) AS n FROM {transactions} WHERE {window}", params
            )
            rows = int(counted["n"])
        return Loaded(int(days["days"]), _day(days["first_day"]), _day(days["last_day"]), rows)

    def _close(self, run: Run) -> bool:
        """Write run's end if its row is still `running`; True when this call did it."""
        ending = {k: v for k, v in asdict(run).items() if k not in IDENTITY}
        sets = ", ".join(f"{name} = {self._mark(name)}" for name in ending)
        done = self._write(
            f"UPDATE {self.table} SET {sets} "
            f"WHERE run_id = {self._mark('run_id')} AND status = 'running'",
            {**ending, "run_id": run.run_id},
        )
        return bool(done)

    def finish(self, run: Run) -> bool:
        """End the run with its status, what it loaded, and (failed or killed) its notice.

        Returns True when this call ended it; False when the row was not `running` any more
        (another process ended it first), in which case nothing is written or sent."""
        if run.status not in STATUSES[1:]:
            raise ValueError(f"status: expected one of {', '.join(STATUSES[1:])}, got {run.status}")
        run.ended_at = run.ended_at or utc_now()
        stats = self.loaded(run.started_at, run.ended_at + END_MARGIN)
        run.days_loaded, run.first_day, run.last_day = stats.days, stats.first_day, stats.last_day
        run.rows_loaded = stats.rows
        if not self._close(run):
            return False
        if run.status in ("failed", "killed"):
            notify_failure(run)
        return True

    def sweep(self, host: str | None = None) -> list[Run]:
        """Mark `killed` every `running` row of this host whose process is gone."""
        host = host or socket.gethostname()
        killed = []
        for run in self.running():
            if run.pid is None or run.host != host or process_alive(run.pid):
                continue
            run.status = "killed"
            run.failing_step = run.current_step
            run.ended_at = self.next_start(run.started_at) or utc_now()
            run.error_tail = read_tail(Path(run.log_file)) if run.log_file else None
            if self.finish(run):
                killed.append(run)
                say(f"run {run.run_id} of job {run.job} was killed (process {run.pid} gone)")
        return killed


def _day(value: Any) -> date | None:
    """A day from the raw layer: DATE in BigQuery, text in the DuckDB loader's tables."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
