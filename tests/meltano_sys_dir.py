"""A Meltano system directory of a test's own, for `meltano` runs in the repository.

Meltano writes each run's plugin config and catalog files under `.meltano/run/<plugin>/`
and deletes that folder's files when the run ends: two runs of the same plugin at once
(pytest-xdist workers, or a test beside someone's `make run`) delete each other's files
("Could not locate config file"). MELTANO_SYS_DIR_ROOT moves `.meltano/` to a folder of
the test's own; the installed plugin venvs are symlinked into it.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT


def own_sys_dir(folder: Path) -> dict[str, str]:
    """Make FOLDER a Meltano system directory; the environment that points Meltano at it."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind in ("extractors", "loaders", "utilities", "mappers"):
        link = folder / kind
        installed = ROOT / ".meltano" / kind
        if installed.is_dir() and not link.exists():
            link.symlink_to(installed, target_is_directory=True)
    return {"MELTANO_SYS_DIR_ROOT": str(folder)}
