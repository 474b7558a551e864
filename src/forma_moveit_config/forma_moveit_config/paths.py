"""Where the package's config/ and launch/ directories are, in a source checkout and installed."""

from __future__ import annotations

import pathlib

from forma_description.paths import share_dir

PACKAGE = "forma_moveit_config"


def config_dir() -> pathlib.Path:
    """config/ of this package: next to the module in a source checkout, else the installed share."""
    source = pathlib.Path(__file__).resolve().parents[1] / "config"
    if source.is_dir():
        return source
    return share_dir(PACKAGE) / "config"


SRDF_NAME = "forma.srdf"


def srdf_path() -> pathlib.Path:
    return config_dir() / SRDF_NAME
