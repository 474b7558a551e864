"""Finding installed package data on both install paths.

On a ROS 2 install the workspace is sourced and ament_index finds every package. In the pip
venv nothing is sourced: packages install their data under <venv>/share/<package>, so when
AMENT_PREFIX_PATH is unset we look there.
"""

from __future__ import annotations

import os
import pathlib
import sys

from forma_description.errors import DescriptionError


def share_dir(package: str) -> pathlib.Path:
    """The share directory of an installed package."""
    if os.environ.get("AMENT_PREFIX_PATH"):
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            return pathlib.Path(get_package_share_directory(package))
        except PackageNotFoundError:
            pass
    candidate = pathlib.Path(sys.prefix) / "share" / package
    if (candidate / "package.xml").is_file():
        return candidate
    raise DescriptionError(
        f"package {package} not found: run `make setup` (pip install) or source the workspace (ROS 2 install)"
    )
