"""forma_record: crash-safe MCAP recording of the ROS graph, replay and recovery."""

from setuptools import find_packages, setup

PACKAGE = "forma_record"

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
    description="Crash-safe MCAP recording (ros2 profile, ros2msg schemas, CDR), replay and recovery for Forma.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": ["recorder_node = forma_record.node:main"],
        "forma.nodes": ["recorder = forma_record.node:RecorderNode"],
    },
)
