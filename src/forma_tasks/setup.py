"""forma_tasks: instructions become whole tasks on the robot (vla/execute)."""

from setuptools import find_packages, setup

PACKAGE = "forma_tasks"

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
    description="Task skills (pick, place, hand over, wave, point, look) served on vla/execute.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": ["tasks_node = forma_tasks.node:main"],
        "forma.nodes": ["tasks = forma_tasks.node:TasksNode"],
    },
)
