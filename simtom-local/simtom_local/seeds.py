"""Seeds derived from named parts, so every random stream is reproducible."""

from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    """A 64-bit seed from any parts, stable across processes and Python versions."""
    key = "|".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
