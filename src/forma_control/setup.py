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
            "stand_node = forma_control.stand.node:main",
            "supervisor_node = forma_control.safety.node:main",
            "wbc_node = forma_control.wbc.node:main",
        ],
        "forma.nodes": [
            "stand = forma_control.stand.node:StandNode",
            "safety_supervisor = forma_control.safety.node:SupervisorNode",
            "wbc = forma_control.wbc.node:WbcNode",
        ],
    },
)
