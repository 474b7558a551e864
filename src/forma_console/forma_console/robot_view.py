"""The robot in the browser: URDF visuals as viser primitives, posed by pinocchio forward
kinematics.

Only links whose pose changed since the last refresh are sent to the browser, so a standing
robot costs next to nothing. (viser's own URDF helper recomputes every transform in Python,
~34 ms per refresh for this robot; pinocchio's kinematics take well under 1 ms.)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pinocchio as pin

POSITION_EPS_M = 5e-4
ROTATION_EPS = 1e-3  # quaternion component change


def _origin(elem) -> tuple[np.ndarray, np.ndarray]:
    """URDF <origin> -> position, wxyz."""
    if elem is None:
        return np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0])
    xyz = np.array([float(v) for v in elem.get("xyz", "0 0 0").split()])
    rpy = [float(v) for v in elem.get("rpy", "0 0 0").split()]
    q = pin.Quaternion(pin.rpy.rpyToMatrix(*rpy))
    return xyz, np.array([q.w, q.x, q.y, q.z])


def _rgb(material, materials: dict[str, tuple]) -> tuple[int, int, int]:
    rgba = None
    if material is not None:
        color = material.find("color")
        rgba = color.get("rgba") if color is not None else materials.get(material.get("name"))
    if not rgba:
        return (200, 200, 200)
    r, g, b = (float(v) for v in rgba.split()[:3])
    return (int(r * 255), int(g * 255), int(b * 255))


class RobotView:
    """Draws a URDF under `root` in a viser scene and poses it from joint positions."""

    def __init__(self, server, urdf_xml: str, root: str = "/robot") -> None:
        self.model = pin.buildModelFromXML(urdf_xml)
        self.data = self.model.createData()
        self.joint_names = [n for n in self.model.names[1:]]
        urdf = ET.fromstring(urdf_xml)
        materials = {
            m.get("name"): m.find("color").get("rgba") for m in urdf.findall("material") if m.find("color") is not None
        }
        self.handles: dict[int, object] = {}
        self.last: dict[int, np.ndarray] = {}
        for link in urdf.findall("link"):
            visuals = link.findall("visual")
            if not visuals or not self.model.existFrame(link.get("name")):
                continue
            fid = self.model.getFrameId(link.get("name"))
            name = f"{root}/{link.get('name')}"
            self.handles[fid] = server.scene.add_frame(name, show_axes=False)
            for k, visual in enumerate(visuals):
                self._add_shape(server, f"{name}/v{k}", visual, materials)
        self.q = pin.neutral(self.model)
        self.update(np.zeros(len(self.joint_names)))

    @staticmethod
    def _add_shape(server, name: str, visual, materials) -> None:
        position, wxyz = _origin(visual.find("origin"))
        color = _rgb(visual.find("material"), materials)
        shape = visual.find("geometry")[0]
        if shape.tag == "box":
            dims = tuple(float(v) for v in shape.get("size").split())
            server.scene.add_box(name, dimensions=dims, color=color, position=position, wxyz=wxyz)
        elif shape.tag == "cylinder":
            server.scene.add_cylinder(
                name,
                radius=float(shape.get("radius")),
                height=float(shape.get("length")),
                color=color,
                position=position,
                wxyz=wxyz,
            )
        elif shape.tag == "sphere":
            server.scene.add_icosphere(
                name, radius=float(shape.get("radius")), color=color, position=position, wxyz=wxyz
            )
        elif shape.tag == "mesh":
            import trimesh

            from forma_description.mjcf import resolve_mesh_uri

            mesh = trimesh.load(resolve_mesh_uri(shape.get("filename")), force="mesh")
            if shape.get("scale"):
                mesh.apply_scale([float(v) for v in shape.get("scale").split()])
            server.scene.add_mesh_simple(name, mesh.vertices, mesh.faces, color=color, position=position, wxyz=wxyz)

    def update(self, joint_positions: np.ndarray) -> int:
        """Pose the links for joint positions in `joint_names` order; returns links redrawn."""
        model, data = self.model, self.data
        for i in range(1, model.njoints):
            self.q[model.joints[i].idx_q] = joint_positions[i - 1]
        pin.framesForwardKinematics(model, data, self.q)
        changed = 0
        for fid, handle in self.handles.items():
            m = data.oMf[fid]
            quat = pin.Quaternion(m.rotation)
            pose = np.concatenate([m.translation, [quat.w, quat.x, quat.y, quat.z]])
            last = self.last.get(fid)
            if (
                last is not None
                and np.all(np.abs(pose[:3] - last[:3]) < POSITION_EPS_M)
                and np.all(np.abs(pose[3:] - last[3:]) < ROTATION_EPS)
            ):
                continue
            handle.position = pose[:3]
            handle.wxyz = pose[3:]
            self.last[fid] = pose
            changed += 1
        return changed

    def frame_pose(self, frame: str) -> tuple[np.ndarray, np.ndarray] | None:
        """A frame of the description in the root (base_link) frame at the last update: position,
        wxyz; None if the description has no such frame."""
        if not self.model.existFrame(frame):
            return None
        m = self.data.oMf[self.model.getFrameId(frame)]
        q = pin.Quaternion(m.rotation)
        return m.translation.copy(), np.array([q.w, q.x, q.y, q.z])
