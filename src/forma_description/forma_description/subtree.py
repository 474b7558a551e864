"""One hand as a robot of its own: the subtree of the description rooted at `<side>_palm`, for the
hand-on-a-stand rig (hand development and grasp trials without the rest of the body)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from forma_description.errors import DescriptionError


def subtree_urdf(urdf_xml: str, root_link: str, name: str) -> str:
    """A URDF holding root_link, everything below it, and the materials."""
    robot = ET.fromstring(urdf_xml)
    links = {link.get("name"): link for link in robot.findall("link")}
    if root_link not in links:
        raise DescriptionError(f"no link {root_link!r} in the description")
    children: dict[str, list[ET.Element]] = {}
    for joint in robot.findall("joint"):
        children.setdefault(joint.find("parent").get("link"), []).append(joint)
    out = ET.Element("robot", name=name)
    for material in robot.findall("material"):
        out.append(material)
    stack = [root_link]
    while stack:
        link = stack.pop()
        out.append(links[link])
        for joint in children.get(link, []):
            out.append(joint)
            stack.append(joint.find("child").get("link"))
    return ET.tostring(out, encoding="unicode")


def hand_urdf(urdf_xml: str, side: str, prefix: str = "") -> str:
    if side not in ("left", "right"):
        raise DescriptionError(f"side {side!r}: left or right")
    return subtree_urdf(urdf_xml, f"{prefix}{side}_palm", f"forma_{side}_hand")
