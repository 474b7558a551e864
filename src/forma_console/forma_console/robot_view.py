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


def quaternions_wxyz(rotations: np.ndarray) -> np.ndarray:
    """(n, 4) unit quaternions w, x, y, z (w >= 0) of (n, 3, 3) rotation matrices."""
    r = rotations
    w = 0.5 * np.sqrt(np.maximum(0.0, 1.0 + r[:, 0, 0] + r[:, 1, 1] + r[:, 2, 2]))
    x = 0.5 * np.sqrt(np.maximum(0.0, 1.0 + r[:, 0, 0] - r[:, 1, 1] - r[:, 2, 2]))
    y = 0.5 * np.sqrt(np.maximum(0.0, 1.0 - r[:, 0, 0] + r[:, 1, 1] - r[:, 2, 2]))
    z = 0.5 * np.sqrt(np.maximum(0.0, 1.0 - r[:, 0, 0] - r[:, 1, 1] + r[:, 2, 2]))
    x = np.copysign(x, r[:, 2, 1] - r[:, 1, 2])
    y = np.copysign(y, r[:, 0, 2] - r[:, 2, 0])
    z = np.copysign(z, r[:, 1, 0] - r[:, 0, 1])
    q = np.stack([w, x, y, z], axis=1)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


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
        self._last_positions: np.ndarray | None = None  # what the browser shows, per link
        self._last_wxyz: np.ndarray | None = None
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
        # every link's pose at once, and only the links that moved are sent (one Python step per
        # link and a quaternion object each cost the console ~0.03 core at 20 Hz)
        fids = list(self.handles)
        poses = np.array([data.oMf[fid].homogeneous for fid in fids])
        positions, wxyz = poses[:, :3, 3], quaternions_wxyz(poses[:, :3, :3])
        if self._last_positions is None or len(self._last_positions) != len(fids):
            self._last_positions = np.full_like(positions, np.nan)
            self._last_wxyz = np.full_like(wxyz, np.nan)
        still = (np.abs(positions - self._last_positions) < POSITION_EPS_M).all(axis=1) & (
            np.abs(wxyz - self._last_wxyz) < ROTATION_EPS
        ).all(axis=1)
        moved = np.flatnonzero(~still)
        for k in moved:
            handle = self.handles[fids[k]]
            handle.position = positions[k]
            handle.wxyz = wxyz[k]
        self._last_positions[moved] = positions[moved]
        self._last_wxyz[moved] = wxyz[moved]
        return len(moved)

    def frame_pose(self, frame: str) -> tuple[np.ndarray, np.ndarray] | None:
        """A frame of the description in the root (base_link) frame at the last update: position,
        wxyz; None if the description has no such frame."""
        if not self.model.existFrame(frame):
            return None
        m = self.data.oMf[self.model.getFrameId(frame)]
        q = pin.Quaternion(m.rotation)
        return m.translation.copy(), np.array([q.w, q.x, q.y, q.z])
