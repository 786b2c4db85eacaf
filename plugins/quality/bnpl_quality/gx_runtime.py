"""Great Expectations plumbing: a file context under the report dir, the checkpoint, Data Docs.

GX takes seconds to import, so it is imported here, lazily, and only by commands that need
it. The context is a file context in ``<report_dir>/gx`` (never the user's home); suites,
validation definitions and the checkpoint are rewritten from code on every run, so the
code stays the single source of truth and the stored validation results feed Data Docs.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Any

from bnpl_quality.config import GateConfig

CHECKPOINT = "daily_quality_gate"
DATASOURCE = "bnpl_warehouse"
ASSET = "raw_transactions_checked_days"
SITE = "bnpl_quality_site"


class _DuckDBDialect(str, enum.Enum):
    DUCKDB = "duckdb"


def import_gx() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module

    # duckdb-engine drops a query's rows when its connection goes back to the pool, and GX
    # fetches after that for every dialect it does not keep a persistent connection for
    # (its list has SQLite, BigQuery, ...; not DuckDB). Adding DuckDB to that list makes GX
    # hold one connection per engine, as it does for SQLite.
    persisted = engine_module._PERSISTED_CONNECTION_DIALECTS
    if _DuckDBDialect.DUCKDB not in persisted:
        engine_module._PERSISTED_CONNECTION_DIALECTS = (*persisted, _DuckDBDialect.DUCKDB)
    return gx


def get_context(gx: Any, config: GateConfig) -> Any:
    config.report_dir.mkdir(parents=True, exist_ok=True)
    # GX puts its context in a "gx" folder under the project root: <report_dir>/gx.
    context = gx.get_context(mode="file", project_root_dir=str(config.report_dir))
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(config.data_docs_dir.resolve()),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    sites = dict(context.variables.data_docs_sites or {})
    # Only our site: GX's default one would write a second copy under gx/uncommitted.
    if sites != {SITE: site}:
        context.variables.data_docs_sites = {SITE: site}
        context.variables.save()
    return context


def run_checkpoint(
    gx: Any,
    context: Any,
    connection_string: str,
    engine_kwargs: dict[str, Any],
    batch_query: str,
    suites: dict[str, Any],
    run_name: str,
    data_docs: bool = True,
) -> Any:
    """Register the batch, the suites and ``daily_quality_gate``; run it; return its result."""
    datasource = context.data_sources.add_or_update_sql(
        name=DATASOURCE, connection_string=connection_string, kwargs=engine_kwargs
    )
    asset = datasource.add_query_asset(name=ASSET, query=batch_query)
    batch_definition = asset.add_batch_definition_whole_table("checked_days")
    definitions = []
    for name, suite in suites.items():
        saved = context.suites.add_or_update(suite)
        definitions.append(
            context.validation_definitions.add_or_update(
                gx.ValidationDefinition(
                    name=f"{name}__checked_days", data=batch_definition, suite=saved
                )
            )
        )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=CHECKPOINT,
            validation_definitions=definitions,
            actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs", site_names=[SITE])]
            if data_docs
            else [],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10},
        )
    )
    from great_expectations.core.run_identifier import RunIdentifier

    try:
        return checkpoint.run(run_id=RunIdentifier(run_name=run_name))
    finally:
        # The DuckDB file must be free for our result writes and the next job step.
        used = batch_definition.data_asset.datasource
        for source in (datasource, used) if used is not datasource else (datasource,):
            _close_engine(source)


def _close_engine(datasource: Any) -> None:
    # GX keeps two engines per SQL datasource: its own (test connections, reflection) and
    # the execution engine's, which holds the persisted connection.
    engine = getattr(datasource, "_engine", None)
    if engine is not None:
        engine.dispose()
    execution = getattr(datasource, "_execution_engine", None)
    if execution is None:
        return
    connection = getattr(execution, "_connection", None)
    if connection is not None:
        connection.close()
        execution._connection = None
    execution.engine.dispose()


def build_docs(gx: Any, config: GateConfig) -> Path:
    context = get_context(gx, config)
    context.build_data_docs(site_names=[SITE])
    return config.data_docs_dir / "index.html"
