"""The failure notice: one JSON POST to BNPL_FAILURE_WEBHOOK_URL per failed or killed run."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .record import Run, say

WEBHOOK_TIMEOUT_SECONDS = 10.0


def notice(run: Run) -> dict[str, Any]:
    """The JSON body of a failure notice."""
    return {
        "event": f"pipeline_run_{run.status}",
        "status": run.status,
        "job": run.job,
        "environment": run.environment,
        "run_id": run.run_id,
        "orchestrator": run.orchestrator,
        "failing_step": run.failing_step,
        "exit_code": run.exit_code,
        "error_tail": run.error_tail,
        "started_at": run.started_at.isoformat() + "Z",
        "ended_at": run.ended_at.isoformat() + "Z" if run.ended_at else None,
        "host": run.host,
    }


def notify_failure(run: Run, url: str | None = None) -> bool:
    """POST the notice to BNPL_FAILURE_WEBHOOK_URL; False (and one line) if it failed."""
    url = url or os.environ.get("BNPL_FAILURE_WEBHOOK_URL")
    if not url:
        return False
    # Webhook URLs often carry a token in their path: only the host is ever printed.
    where = urllib.parse.urlsplit(url).netloc or "the webhook"
    request = urllib.request.Request(
        url,
        data=json.dumps(notice(run)).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        say(f"failure notice for run {run.run_id} not delivered to {where}: {reason}")
        return False
    say(f"failure notice for run {run.run_id} sent to {where}")
    return True
