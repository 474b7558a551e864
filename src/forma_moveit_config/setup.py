"""forma_moveit_config: the MoveIt 2 configuration of the Forma humanoid (SRDF, planning configs, launch)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "forma_moveit_config"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "README.md"]),
        (f"share/{PACKAGE}/config", glob("config/*")),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/examples", glob("examples/*.py")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Forma maintainers",
    maintainer_email="maintainers@forma-robotics.org",
    description="MoveIt 2 configuration of the Forma humanoid: SRDF with a sampled collision matrix, "
    "kinematics, joint limits, OMPL and Pilz pipelines, controllers, move_group + RViz launch, moveit_py example.",
    license="Apache-2.0",
)
