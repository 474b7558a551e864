"""forma_sim: MuJoCo simulation of the Forma humanoid, serving the hardware topics of DESIGN §4."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "forma_sim"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/worlds", glob("worlds/*.xml")),
        (f"share/{PACKAGE}/worlds/assets", glob("worlds/assets/*")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Forma maintainers",
    maintainer_email="maintainers@forma-robotics.org",
    description="MuJoCo simulation node for the Forma humanoid.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "sim_node = forma_sim.sim_node:main",
            "actuator_emulator = forma_sim.actuator_emulator_node:main",
        ],
        "forma.nodes": [
            "sim = forma_sim.sim_node:SimNode",
            "actuator_emulator = forma_sim.actuator_emulator_node:ActuatorEmulatorNode",
        ],
    },
)
