"""forma_control: the joint-PD stand, whole-body control and the safety supervisor; walking next."""

from setuptools import find_packages, setup

PACKAGE = "forma_control"

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
    description="Control nodes of the Forma humanoid.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "stand_node = forma_control.stand_node:main",
            "supervisor_node = forma_control.supervisor_node:main",
            "wbc_node = forma_control.wbc_node:main",
        ],
        "forma.nodes": [
            "stand = forma_control.stand_node:StandNode",
            "safety_supervisor = forma_control.supervisor_node:SupervisorNode",
            "wbc = forma_control.wbc_node:WbcNode",
        ],
    },
)
