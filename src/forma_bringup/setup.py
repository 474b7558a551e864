"""forma_bringup: deployments, the process host, the `forma` runner/CLI, launch files and config."""

import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "forma_bringup"


def tree(src: str, dst: str) -> list[tuple[str, list[str]]]:
    """data_files entries installing every file under src to share/<package>/dst."""
    out = []
    for root, _, files in os.walk(src, followlinks=True):
        if files:
            rel = os.path.relpath(root, src)
            out.append(
                (os.path.normpath(os.path.join("share", PACKAGE, dst, rel)), [os.path.join(root, f) for f in files])
            )
    return out


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        *tree("config", "config"),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Forma maintainers",
    maintainer_email="maintainers@forma-robotics.org",
    description="Deployments, process host, runner and launch files of the Forma stack.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "forma = forma_bringup.cli:main",
            "forma_process = forma_bringup.process_host:main",
        ],
    },
)
