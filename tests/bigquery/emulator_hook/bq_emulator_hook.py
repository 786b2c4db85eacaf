"""Test-only: point the Google clients of a plugin process at the local BigQuery emulator.

tests/bigquery/emulator.py drops a .pth file into the BigQuery plugin venvs that imports
this module at interpreter start-up (Meltano strips PYTHONPATH from plugin environments),
so the production job runs unchanged -- prod environment, prod settings, the real plugin
venvs and `meltano run` -- while its BigQuery calls go to the emulator. It does nothing
unless BNPL_BQ_EMULATOR_REST is set; production never sets it. What it changes, and why
each is needed on the emulator only:

- google.auth.default: anonymous credentials (sqlalchemy-bigquery asks for them first).
- google.cloud.bigquery.Client: anonymous credentials and the emulator's REST URL
  (z3-target-bigquery has no endpoint setting; the quality gate's sqlalchemy-bigquery
  has none either; Google's auth servers are unreachable offline).
- BigQuery Storage Read/Write clients: an insecure gRPC channel to the emulator.
- target_bigquery.core.Compressor: writes uncompressed load files (the emulator fails
  gzip-compressed NEWLINE_DELIMITED_JSON loads; BigQuery itself accepts both).
- dbt-bigquery: see dbt_shim.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from collections.abc import Callable
from types import ModuleType

REST = os.environ.get("BNPL_BQ_EMULATOR_REST", "")
GRPC = os.environ.get("BNPL_BQ_EMULATOR_GRPC", "")


def _patch_google_auth(module: ModuleType) -> None:
    from google.auth.credentials import AnonymousCredentials

    def default(*_args, **_kwargs):
        return AnonymousCredentials(), os.environ.get("BNPL_GCP_PROJECT")

    module.default = default


def _patch_bigquery_client(module: ModuleType) -> None:
    import inspect

    from google.auth.credentials import AnonymousCredentials

    original = module.Client.__init__
    signature = inspect.signature(original)

    def __init__(self, *args, **kwargs) -> None:
        # dbt-bigquery passes project and credentials positionally.
        bound = signature.bind(self, *args, **kwargs)
        bound.arguments["credentials"] = AnonymousCredentials()
        bound.arguments["client_options"] = {"api_endpoint": REST}
        original(*bound.args, **bound.kwargs)

    module.Client.__init__ = __init__


def _grpc_transport_patch(transport_attr: str) -> Callable[[ModuleType], None]:
    def patch(module: ModuleType) -> None:
        import grpc
        from google.auth.credentials import AnonymousCredentials

        client_cls = next(
            value
            for name, value in vars(module).items()
            if name.endswith("Client")
            and not name.endswith("AsyncClient")
            and isinstance(value, type)
        )
        transport_module = importlib.import_module(f"{module.__package__}.transports.grpc")
        transport_cls = getattr(transport_module, transport_attr)
        original = client_cls.__init__

        def __init__(self, *args, **kwargs) -> None:
            kwargs.pop("credentials", None)
            kwargs.pop("client_options", None)
            kwargs["transport"] = transport_cls(
                channel=grpc.insecure_channel(GRPC), credentials=AnonymousCredentials()
            )
            original(self, *args, **kwargs)

        client_cls.__init__ = __init__
        # The target builds its write client from a key file when one is configured.
        for factory in ("from_service_account_file", "from_service_account_info"):
            setattr(client_cls, factory, classmethod(lambda cls, *_a, **kw: cls(**kw)))

    return patch


def _patch_target_compressor(module: ModuleType) -> None:
    import io

    def __init__(self) -> None:
        self._compressor = None
        self._closed = False
        self._buffer = io.BytesIO()
        self._gzip = self._buffer

    def close(self) -> None:
        if not self._closed:
            self._buffer.flush()
            self._buffer.seek(0)
            self._closed = True

    module.Compressor.__init__ = __init__
    module.Compressor.close = close


def _patch_dbt(module: ModuleType) -> None:
    sys.path.insert(0, os.path.dirname(__file__))
    import dbt_shim

    dbt_shim.install(module)


PATCHES: dict[str, Callable[[ModuleType], None]] = {
    "google.auth": _patch_google_auth,
    "google.cloud.bigquery.client": _patch_bigquery_client,
    "google.cloud.bigquery_storage_v1.services.big_query_read.client": _grpc_transport_patch(
        "BigQueryReadGrpcTransport"
    ),
    "google.cloud.bigquery_storage_v1.services.big_query_write.client": _grpc_transport_patch(
        "BigQueryWriteGrpcTransport"
    ),
    "target_bigquery.core": _patch_target_compressor,
    "dbt.adapters.bigquery.connections": _patch_dbt,
}


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, patch: Callable[[ModuleType], None]):
        self._loader = loader
        self._patch = patch

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._patch(module)


class _PatchingFinder(importlib.abc.MetaPathFinder):
    """Patches a module right after its first import, so untouched processes pay nothing."""

    def find_spec(self, fullname, path, target=None):
        patch = PATCHES.get(fullname)
        if patch is None:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader, patch)
        return spec


if REST:
    sys.meta_path.insert(0, _PatchingFinder())
