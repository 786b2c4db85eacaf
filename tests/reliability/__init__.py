"""The fault-injection suite (issue 8): faults, kills, bad input, concurrency, secrets."""
