"""The repository's Meltano project, isolated: own system database, warehouse and dbt folders.

Nothing a benchmark runs touches the developer's state, `output/bnpl.duckdb` or
`transform/target`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.processes import Finished, run_timed
from bench.project import MELTANO, SYS_DIR, child_env, require

# Environment variables of the caller that would steer a benchmark's Meltano runs elsewhere.
_LEAKY_PREFIXES = ("TAP_SIMTOM_BNPL_", "TARGET_DUCKDB_", "DBT_", "BNPL_")
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
            }
        )
        env.update(self.overrides)
        env.update(extra)
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
