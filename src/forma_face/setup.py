"""forma_face: the animated face on the curved display and the interaction (dialogue) node."""

from setuptools import find_packages, setup

PACKAGE = "forma_face"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "themes.yaml", "intents.yaml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Forma maintainers",
    maintainer_email="maintainers@forma-robotics.org",
    description="Expressive face (expressions, gaze, lip sync) and dialogue (intents, speech, tasks) for Forma.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "face_node = forma_face.face_node:main",
            "interaction_node = forma_face.interaction_node:main",
        ],
        "forma.nodes": [
            "face = forma_face.face_node:FaceNode",
            "interaction = forma_face.interaction_node:InteractionNode",
        ],
    },
)
