"""``simtom-local``: run the simtom-compatible server until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import threading
from pathlib import Path
from typing import NoReturn

from .faults import Faults
from .server import SimtomServer


def _non_negative(kind):
    def parse(text: str):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"expected a value >= 0, got {text}")
        return value

    return parse


def _positive_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected records per second > 0, got {text!r}")
    return value


def _indexes(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated indexes, got {text!r}"
        ) from None
    if any(value < 0 for value in values):
        raise argparse.ArgumentTypeError(f"expected indexes >= 0, got {text!r}")
    return values


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value


def _json_value(text: str) -> object:
    """A JSON value when the text is one (12, true, {"a": 1}), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated field names, got {text!r}")
    return names


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line naming the flag; the full usage is a --help away.
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="simtom-local",
        description="A simtom-compatible BNPL API server (POST /stream/bnpl) for tests and "
        "offline runs. Fault switches can also be changed at run time with POST /_faults.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one")
    parser.add_argument(
        "--port-file", type=Path, help="write the bound port to this file (useful with --port 0)"
    )
    parser.add_argument(
        "--pace",
        type=_non_negative(float),
        default=0.0,
        metavar="SECONDS",
        help="pause after each streamed day except the last (simtom: about 1)",
    )
    parser.add_argument(
        "--records-per-second",
        type=_positive_rate,
        metavar="N",
        help="generate at most about N records/s across the whole server, one request's "
        "day at a time, as simtom's one core does (simtom: about 5000); default: no limit",
    )
    faults = parser.add_argument_group("fault switches")
    faults.add_argument(
        "--fail-first",
        type=_non_negative(int),
        default=0,
        metavar="N",
        help="answer the first N stream requests with --fail-status",
    )
    faults.add_argument(
        "--fail-status",
        type=int,
        default=500,
        choices=(429, 500, 502, 503, 504),
        help="status of failed requests",
    )
    faults.add_argument(
        "--retry-after",
        type=_non_negative(float),
        metavar="SECONDS",
        help="Retry-After header of failed requests",
    )
    faults.add_argument(
        "--drop-after",
        type=_non_negative(int),
        metavar="N",
        help="close the connection abruptly after N records (no chunked terminator)",
    )
    faults.add_argument(
        "--drop-requests",
        type=_non_negative(int),
        default=1,
        metavar="K",
        help="how many stream requests --drop-after applies to",
    )
    faults.add_argument(
        "--drop-mid-line", action="store_true", help="tear the next line in half when dropping"
    )
    faults.add_argument(
        "--malformed-every",
        type=_non_negative(int),
        default=0,
        metavar="N",
        help="send every Nth record of a response as a torn, non-JSON line",
    )
    faults.add_argument(
        "--malformed-at",
        type=_indexes,
        default=[],
        metavar="I,J,...",
        help="record indexes (0-based, per response) sent as non-JSON lines",
    )
    faults.add_argument(
        "--rename-field",
        type=_pair,
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="send field OLD as NEW in every record (repeatable), e.g. amount=amount_usd",
    )
    faults.add_argument(
        "--add-field",
        type=_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="add field NAME to every record (repeatable); VALUE is read as JSON when it is "
        "JSON, else as text, e.g. merchant_tier=gold",
    )
    faults.add_argument(
        "--change-type",
        type=_names,
        default=[],
        metavar="NAME,...",
        help="send these fields' values as strings in every record, e.g. amount",
    )
    faults.add_argument(
        "--stall-seconds",
        type=_non_negative(float),
        default=0.0,
        metavar="SECONDS",
        help="sleep before the first byte of a response",
    )
    faults.add_argument(
        "--stall-requests",
        type=_non_negative(int),
        default=1,
        metavar="K",
        help="how many stream requests --stall-seconds applies to",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log one line per request")
    return parser


def faults_from_args(args: argparse.Namespace) -> Faults:
    """The fault switches the command line asks for."""
    return Faults(
        fail_first=args.fail_first,
        fail_status=args.fail_status,
        retry_after=args.retry_after,
        drop_after=args.drop_after,
        drop_requests=args.drop_requests,
        drop_mid_line=args.drop_mid_line,
        malformed_every=args.malformed_every,
        malformed_at=args.malformed_at,
        rename_field=dict(args.rename_field),
        add_field={name: _json_value(value) for name, value in args.add_field},
        change_type=args.change_type,
        stall_seconds=args.stall_seconds,
        stall_requests=args.stall_requests,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s simtom-local %(message)s",
        stream=sys.stderr,
    )
    faults = faults_from_args(args)
    try:
        server = SimtomServer(
            args.host,
            args.port,
            pace_seconds=args.pace,
            faults=faults,
            records_per_second=args.records_per_second,
        )
    except OSError as exc:
        print(f"simtom-local: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    if args.port_file:
        partial = args.port_file.with_name(args.port_file.name + ".tmp")
        partial.write_text(f"{server.port}\n")
        os.replace(partial, args.port_file)
    rate = args.records_per_second
    logging.getLogger("simtom_local").info(
        "listening on %s (pace %.2fs, %s)",
        server.url,
        server.pace_seconds,
        f"{rate:g} records/s" if rate else "no rate limit",
    )
    while not stop.wait(0.5):
        pass
    server.stop()
    logging.getLogger("simtom_local").info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
