"""forma_planning: collision-free arm motion planning on the pip side (OMPL + pinocchio/coal)."""

from setuptools import find_packages, setup

PACKAGE = "forma_planning"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "README.md"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    entry_points={
        "console_scripts": ["planner_node = forma_planning.node:main"],
        "forma.nodes": ["planner = forma_planning.node:PlannerNode"],
    },
    maintainer="Forma maintainers",
    maintainer_email="maintainers@forma-robotics.org",
    description="Collision-free joint-space planning for Forma's planning groups with OMPL, checked with "
    "pinocchio + coal against the SRDF's collision matrix and the perceived scene, time-parameterized "
    "within the joint velocity and acceleration limits.",
    license="Apache-2.0",
)
