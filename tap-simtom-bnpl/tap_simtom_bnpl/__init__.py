"""Singer tap for the simtom BNPL API."""
