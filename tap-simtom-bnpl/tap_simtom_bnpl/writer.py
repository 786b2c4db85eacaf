"""A Singer message writer that keeps up with simtom's stream.

The SDK's default writer serialises with simplejson and flushes stdout after every
message; at thousands of records per second that dominates the run. This one serialises
with orjson and flushes at every non-RECORD message, so a STATE never reaches the target
ahead of the records it covers.
"""

from __future__ import annotations

import sys

import orjson
from singer_sdk.singerlib.encoding import SimpleSingerWriter
from singer_sdk.singerlib.encoding.simple import Message, RecordMessage
from singer_sdk.singerlib.json import serialize_json


class FastSingerWriter(SimpleSingerWriter):
    """orjson serialisation; stdout flushed at SCHEMA/STATE/other messages only."""

    def serialize_message(self, message: Message) -> str:
        """Serialise `message` as one JSON line (SDK encoder for values orjson rejects)."""
        data = message.to_dict()
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return serialize_json(data)

    def write_message(self, message: Message) -> None:
        """Write `message` to stdout."""
        sys.stdout.write(self.format_message(message) + "\n")
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()
