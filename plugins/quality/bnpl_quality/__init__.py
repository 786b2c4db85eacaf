"""BNPL data quality gate: Great Expectations suites run as SQL in DuckDB or BigQuery."""

__version__ = "0.1.0"
