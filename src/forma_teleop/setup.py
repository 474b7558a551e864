"""forma_teleop: interactive-marker teleop of the whole-body controller's targets (RViz)."""

from setuptools import find_packages, setup

PACKAGE = "forma_teleop"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Forma maintainers",
    maintainer_email="maintainers@forma-robotics.org",
    description="Interactive markers for the hand, gaze and torso targets of Forma's whole-body controller.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": ["teleop_markers = forma_teleop.node:main"],
        "forma.nodes": ["teleop_markers = forma_teleop.node:TeleopMarkersNode"],
    },
)
