"""The Singer SDK names the tap needs that the SDK does not export publicly.

singer-sdk 0.54 keeps its BATCH message and `batch_config` types in a private module;
they are imported here only, so an SDK upgrade that moves them is fixed in one place.
"""

from __future__ import annotations

from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig, SDKBatchMessage

__all__ = ["BaseBatchFileEncoding", "BatchConfig", "SDKBatchMessage"]
