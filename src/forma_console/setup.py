"""forma_console: the browser view of the Forma stack (viser), served on localhost."""

from setuptools import find_packages, setup

PACKAGE = "forma_console"

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
    description="Browser console of the Forma stack.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": ["console_node = forma_console.node:main"],
        "forma.nodes": ["console = forma_console.node:ConsoleNode"],
    },
)
