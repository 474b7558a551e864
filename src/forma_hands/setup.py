"""forma_hands: two 22-DoF hands: synergies, a grasp taxonomy and a Grasp action that knows whether it holds."""

from setuptools import find_packages, setup

PACKAGE = "forma_hands"

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
    description="Hand control for Forma: synergies, grasp taxonomy, Grasp action with slip and drop detection.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": ["hands_node = forma_hands.node:main"],
        "forma.nodes": ["hands = forma_hands.node:HandsNode"],
    },
)
