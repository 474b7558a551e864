"""forma_vla: vision-language-action policies on the robot."""

import glob
import os

from setuptools import find_packages, setup

PACKAGE = "forma_vla"
# the shipped models (models/<name>/: policy.onnx, train.json, eval.json) -> share/forma_vla/models/<name>
MODELS = [
    (f"share/{PACKAGE}/{directory}", sorted(glob.glob(f"{directory}/*")))
    for directory in sorted(glob.glob("models/*"))
    if os.path.isdir(directory)
]

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "data/eval_instructions.yaml"]),
        *MODELS,
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Forma maintainers",
    maintainer_email="maintainers@forma-robotics.org",
    description="VLA policies: the action space, real-time chunk execution, policy runtimes.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": ["vla_node = forma_vla.node:main"],
        "forma.nodes": ["vla = forma_vla.node:VlaNode"],
    },
)
