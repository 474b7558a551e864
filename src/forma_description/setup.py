"""forma_description: the Forma robot model (xacro), its expansion, and the MuJoCo model built from it."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "forma_description"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/urdf", glob("urdf/*.xacro") + glob("urdf/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Forma maintainers",
    maintainer_email="maintainers@forma-robotics.org",
    description="Forma humanoid robot description: xacro, joint table, body forms, MJCF builder.",
    license="Apache-2.0",
)
