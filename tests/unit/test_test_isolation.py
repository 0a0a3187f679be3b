"""The autouse fixtures keep every test away from the developer's home and environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reflexia.core.models.catalog import Catalog, default_lmstudio_dirs, default_ollama_dir, scan_catalog
from reflexia.core.models.model_factory import make_model


def test_home_is_a_temporary_folder_of_the_test(tmp_path: Path) -> None:
    temporary_root = tmp_path.parent.parent  # pytest's base folder for this session
    assert Path.home().is_relative_to(temporary_root)
    assert Path("~").expanduser() == Path.home()
    assert default_ollama_dir().is_relative_to(Path.home())
    assert all(folder.is_relative_to(Path.home()) for folder in default_lmstudio_dirs())


@pytest.mark.parametrize("name", ["OLLAMA_MODELS", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"])
def test_variables_pointing_outside_home_are_unset(name: str) -> None:
    assert name not in os.environ


def test_a_catalog_scan_sees_only_the_tests_home() -> None:
    assert scan_catalog([]) == Catalog((), ())


def test_a_catalog_scan_does_look_in_home() -> None:
    # The empty scan above proves isolation only if the scan really searches the (test's) home.
    make_model(Path.home() / ".lmstudio" / "models" / "someone" / "tiny.gguf", size="tiny", seed=0)

    catalog = scan_catalog([])

    [family] = catalog.families
    [entry] = family.files
    assert entry.source == "lmstudio"
    assert entry.path.is_relative_to(Path.home())
