"""The project's own metadata gives no setuptools warnings on install (issue 13, housekeeping).

Recent setuptools (the one pip's isolated build gets) warns three times about a ``project.license``
TOML table, and prints a long banner for every data folder that is not a package. Both are
checked statically here; ``tests/test_install.py`` checks a real build's log.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_SUFFIXES = {".toml", ".json", ".ini", ".typed"}


def test_license_is_an_spdx_expression_not_a_table() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert isinstance(meta["project"]["license"], str)
    backend = " ".join(meta["build-system"]["requires"])
    assert "setuptools>=77" in backend  # the first setuptools that reads SPDX license strings


def test_every_folder_with_package_data_is_a_package() -> None:
    for top in (ROOT / "whsim", ROOT / "conformance"):
        for folder in [top, *(p for p in top.rglob("*") if p.is_dir())]:
            if "__pycache__" in folder.parts:
                continue
            data = [p for p in folder.iterdir() if p.suffix in DATA_SUFFIXES]
            if data:
                assert (folder / "__init__.py").is_file(), f"{folder} holds data but is no package"


def test_gitignore_covers_sqlite_side_files_and_the_data_folder() -> None:
    lines = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    for pattern in ("/data/", "*.sqlite3-wal", "*.sqlite3-shm", "*.db-wal", "*.db-shm"):
        assert pattern in lines, pattern
