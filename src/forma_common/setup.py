"""forma_common: the ROS shell every Forma node shares (QoS profiles, message helpers, direct
subscriptions read by a node's own thread)."""

from setuptools import find_packages, setup

PACKAGE = "forma_common"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={PACKAGE: ["fastdds_profile.xml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Forma maintainers",
    maintainer_email="maintainers@forma-robotics.org",
    description="The node kit shared by every Forma node.",
    license="Apache-2.0",
)
