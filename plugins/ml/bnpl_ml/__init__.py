"""bnpl-ml: trains and evaluates a default model on the dbt ML training set."""
