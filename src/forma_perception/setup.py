"""forma_perception: tabletop objects and people from the head RGB-D camera."""

from setuptools import find_packages, setup

PACKAGE = "forma_perception"

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
    description="Objects with 3D poses (support plane, clustering, colour/shape) from RGB-D for Forma.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": ["perception_node = forma_perception.node:main"],
        "forma.nodes": ["perception = forma_perception.node:PerceptionNode"],
    },
)
