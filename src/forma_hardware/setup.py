"""forma_hardware: the hardware command contract shared by the MuJoCo sim and the motor-bus driver."""

from setuptools import find_packages, setup

PACKAGE = "forma_hardware"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "hardware.yaml", "hardware_hil.yaml", "actuators.yaml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Forma maintainers",
    maintainer_email="maintainers@forma-robotics.org",
    description="Command gate, watchdogs, hold/damp latch and actuator setpoints for Forma hardware nodes.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "bus_driver = forma_hardware.bus_driver_node:main",
            "controller_commands_node = forma_hardware.controller_commands_node:main",
        ],
        "forma.nodes": [
            "bus_driver = forma_hardware.bus_driver_node:BusDriverNode",
            "controller_commands = forma_hardware.controller_commands_node:ControllerCommandsNode",
        ],
    },
)
