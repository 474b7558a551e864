"""Build the MuJoCo model (MJCF) from the expanded URDF, so the simulation never drifts from the
description.

What the builder adds that URDF cannot say, all derived from the description or joints.yaml:
- a free joint on the root link (the floating pelvis), no welds, no gravity compensation;
- per joint: armature (reflected rotor inertia, joints.yaml), damping and friction (URDF);
- one actuator per joint, a PD motor driver: force = kp (q* - q) + kd (qd* - qd) + tau_ff,
  written as a MuJoCo `general` actuator (gain 1, affine bias -kp q - kd qd, ctrl carries
  kp q* + kd qd* + tau_ff) so the damping term is integrated implicitly; its force is clipped to
  the URDF effort limit (`forcerange`);
- sensors on named frames: imu_link (orientation, gyro, accelerometer), <side>_sole (force and
  torque of the ankle sensor, expressed at the sole), <side>_<finger>_tip (touch), and the head
  camera on head_camera_color_optical_frame;
- collision classes: robot geoms collide with the world, not with each other (see README).
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import xml.etree.ElementTree as ET

import numpy as np

from forma_description.errors import DescriptionError
from forma_description.paths import share_dir
from forma_description.robot_model import FINGERS, RobotModel

FREE_JOINT = "floating_base"
IMU_SITE = "imu_link"
CAMERA_FRAME = "head_camera_color_optical_frame"
CAMERA_NAME = "head_camera"
ROBOT_FILE = "forma_robot.xml"  # name under which scenes <include> the robot
STAND_JOINTS = ("stand_x", "stand_y", "stand_z", "stand_yaw")

# Collision filtering: robot geoms (contype 2, conaffinity 1) touch world geoms (MuJoCo's
# default contype 1, conaffinity 1) but never each other.
ROBOT_CONTYPE, ROBOT_CONAFFINITY = 2, 1


@dataclasses.dataclass(frozen=True)
class MjcfOptions:
    """Physics options of the generated model."""

    timestep_s: float = 0.002  # physics period [s]; 0.002 = 500 Hz
    # "free": the root link floats (the humanoid). "stand": the root hangs from a positioning rig
    # (slides x, y, z and a yaw hinge, position-servoed), e.g. a hand on a stand for grasp trials.
    base: str = "free"
    stand_rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)  # root link orientation on the rig
    touch_radius_m: float = 0.014  # radius of the fingertip touch volume [m]
    foot_friction: float = 1.0
    hand_friction: float = 1.2
    # Elliptic friction cones with impratio 10 (MuJoCo's setting for grasping): with the default
    # pyramidal cones and impratio 1 the soft friction constraint creeps, and every grasp slid out
    # of the hand (rig and full robot 0/10 per object, measured); standing, pushes and the solver's
    # cost are unchanged (measured: the same push figures within the bisection step, 101 vs 105 us
    # per period).
    friction_cone: str = "elliptic"
    impratio: float = 10.0


# --- small rigid-body helpers ---------------------------------------------------------------
def rpy_to_matrix(rpy: tuple[float, float, float]) -> np.ndarray:
    """URDF fixed-axis roll, pitch, yaw [rad] -> rotation matrix (R = Rz Ry Rx)."""
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = math.cos(r), math.sin(r), math.cos(p), math.sin(p), math.cos(y), math.sin(y)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def matrix_to_quat_wxyz(m: np.ndarray) -> np.ndarray:
    """Rotation matrix -> unit quaternion (w, x, y, z), w >= 0."""
    t = np.trace(m)
    if t > 0:
        s = math.sqrt(t + 1.0) * 2
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.array(q)
    q /= np.linalg.norm(q)
    return -q if q[0] < 0 else q


def _origin(elem: ET.Element | None) -> np.ndarray:
    """4x4 transform of a URDF <origin> (identity when absent)."""
    t = np.eye(4)
    if elem is None:
        return t
    t[:3, :3] = rpy_to_matrix(tuple(float(v) for v in elem.get("rpy", "0 0 0").split()))
    t[:3, 3] = [float(v) for v in elem.get("xyz", "0 0 0").split()]
    return t


def _fmt(values) -> str:
    return " ".join(f"{float(v):.9g}" for v in values)


def _pose_attrs(t: np.ndarray) -> dict[str, str]:
    attrs = {"pos": _fmt(t[:3, 3])}
    if not np.allclose(t[:3, :3], np.eye(3)):
        attrs["quat"] = _fmt(matrix_to_quat_wxyz(t[:3, :3]))
    return attrs


# --- the builder ----------------------------------------------------------------------------
class _Builder:
    def __init__(self, model: RobotModel, armature: dict[str, float], options: MjcfOptions):
        self.model = model
        self.armature = armature
        self.options = options
        self.urdf = ET.fromstring(model.urdf_xml)
        self.links = {link.get("name"): link for link in self.urdf.findall("link")}
        self.child_joints: dict[str, list[ET.Element]] = {}
        for j in self.urdf.findall("joint"):
            self.child_joints.setdefault(j.find("parent").get("link"), []).append(j)
        self.materials = {
            m.get("name"): m.find("color").get("rgba")
            for m in self.urdf.findall("material")
            if m.find("color") is not None
        }
        self.hand_links = self._hand_links()
        self.mesh_assets: dict[str, str] = {}
        self.site_frames: set[str] = set()

    def _hand_links(self) -> set[str]:
        links = set()
        for info in self.model.joints:
            if info.group != "body" or info.kind == "wrist_yaw":
                stack = [info.child]
                while stack:
                    name = stack.pop()
                    links.add(name)
                    stack.extend(j.find("child").get("link") for j in self.child_joints.get(name, []))
        return links

    def build(self) -> ET.Element:
        mj = ET.Element("mujoco", model=self.model.name)
        ET.SubElement(mj, "compiler", angle="radian", autolimits="true")
        ET.SubElement(
            mj,
            "option",
            timestep=f"{self.options.timestep_s:.9g}",
            integrator="implicitfast",
            gravity="0 0 -9.81",
            cone=self.options.friction_cone,
            impratio=f"{self.options.impratio:.9g}",
        )
        default = ET.SubElement(mj, "default")
        # Body geoms: sliding friction of the feet; hand geoms: more grip and torsional friction
        # (condim 4) for pinches.
        for cls, condim, friction in (
            ("forma_collision", 3, self.options.foot_friction),
            ("forma_hand_collision", 4, self.options.hand_friction),
        ):
            ET.SubElement(
                ET.SubElement(default, "default", {"class": cls}),
                "geom",
                contype=str(ROBOT_CONTYPE),
                conaffinity=str(ROBOT_CONAFFINITY),
                group="3",
                condim=str(condim),
                friction=f"{friction} 0.02 0.002",
                rgba="0.6 0.6 0.6 0.4",
            )
        visual = ET.SubElement(default, "default", {"class": "forma_visual"})
        ET.SubElement(visual, "geom", contype="0", conaffinity="0", group="2", density="0")
        self.asset = ET.SubElement(mj, "asset")
        world = ET.SubElement(mj, "worldbody")
        root = self.model.root_link
        if self.options.base == "free":
            base = ET.SubElement(world, "body", name=root, pos="0 0 1")
            ET.SubElement(base, "freejoint", name=FREE_JOINT)
        elif self.options.base == "stand":
            base = self._stand(world, root)
        else:
            raise DescriptionError(f"base {self.options.base!r}: free or stand")
        self._fill_body(base, root, np.eye(4))
        self._actuators(mj)
        if self.options.base == "stand":
            act = mj.find("actuator")
            for name in STAND_JOINTS:
                ET.SubElement(act, "position", name=name, joint=name, kp="20000", dampratio="1")
        self._sensors(mj)
        if len(self.asset) == 0:
            mj.remove(self.asset)
        return mj

    def _stand(self, world: ET.Element, root: str) -> ET.Element:
        """A positioning rig carrying the root link: slides x, y, z and a yaw hinge."""
        rig = ET.SubElement(world, "body", name="stand", pos="0 0 0")
        ET.SubElement(rig, "inertial", pos="0 0 0", mass="2.0", diaginertia="0.01 0.01 0.01")
        for name, kind, axis in (
            ("stand_x", "slide", "1 0 0"),
            ("stand_y", "slide", "0 1 0"),
            ("stand_z", "slide", "0 0 1"),
            ("stand_yaw", "hinge", "0 0 1"),
        ):
            ET.SubElement(rig, "joint", name=name, type=kind, axis=axis, damping="50")
        ET.SubElement(
            rig,
            "geom",
            type="box",
            size="0.03 0.03 0.03",
            contype="0",
            conaffinity="0",
            group="2",
            rgba="0.3 0.3 0.3 1",
        )
        quat = matrix_to_quat_wxyz(rpy_to_matrix(self.options.stand_rpy))
        return ET.SubElement(rig, "body", name=root, pos="0 0 0", quat=_fmt(quat))

    def _fill_body(self, body: ET.Element, link_name: str, t_body_link: np.ndarray) -> None:
        """Add link `link_name` (at t_body_link inside `body`) and its subtree."""
        link = self.links[link_name]
        if np.allclose(t_body_link, np.eye(4)):
            self._inertial(body, link)
        self._geoms(body, link, t_body_link)
        for joint in self.child_joints.get(link_name, []):
            child = joint.find("child").get("link")
            t_link_child = t_body_link @ _origin(joint.find("origin"))
            massless = self.model.link_masses_kg.get(child, 0.0) == 0.0
            if joint.get("type") == "fixed" and massless:
                self._frame_site(body, child, t_link_child)
                self._fill_body(body, child, t_link_child)
                continue
            child_body = ET.SubElement(body, "body", name=child, **_pose_attrs(t_link_child))
            if joint.get("type") != "fixed":
                self._joint(child_body, joint)
            self._fill_body(child_body, child, np.eye(4))

    def _inertial(self, body: ET.Element, link: ET.Element) -> None:
        inertial = link.find("inertial")
        if inertial is None:
            return
        t = _origin(inertial.find("origin"))
        i = inertial.find("inertia")
        tensor = np.array(
            [
                [float(i.get("ixx")), float(i.get("ixy", 0)), float(i.get("ixz", 0))],
                [float(i.get("ixy", 0)), float(i.get("iyy")), float(i.get("iyz", 0))],
                [float(i.get("ixz", 0)), float(i.get("iyz", 0)), float(i.get("izz"))],
            ]
        )
        r = t[:3, :3]
        tensor = r @ tensor @ r.T  # into the link frame
        ET.SubElement(
            body,
            "inertial",
            pos=_fmt(t[:3, 3]),
            mass=f"{float(inertial.find('mass').get('value')):.9g}",
            fullinertia=_fmt([tensor[0, 0], tensor[1, 1], tensor[2, 2], tensor[0, 1], tensor[0, 2], tensor[1, 2]]),
        )

    def _geoms(self, body: ET.Element, link: ET.Element, t_body_link: np.ndarray) -> None:
        name = link.get("name")
        coll_class = "forma_hand_collision" if name in self.hand_links else "forma_collision"
        for kind, cls in (("collision", coll_class), ("visual", "forma_visual")):
            for k, elem in enumerate(link.findall(kind)):
                attrs = self._geometry(elem.find("geometry"), name)
                attrs.update(_pose_attrs(t_body_link @ _origin(elem.find("origin"))))
                attrs["class"] = cls
                attrs["name"] = f"{name}_{kind}" + (f"_{k}" if k else "")
                if kind == "visual":
                    rgba = self._rgba(elem.find("material"))
                    if rgba:
                        attrs["rgba"] = rgba
                ET.SubElement(body, "geom", attrs)

    def _rgba(self, material: ET.Element | None) -> str | None:
        if material is None:
            return None
        color = material.find("color")
        if color is not None:
            return color.get("rgba")
        return self.materials.get(material.get("name"))

    def _geometry(self, geometry: ET.Element, link: str) -> dict[str, str]:
        shape = geometry[0]
        if shape.tag == "box":
            return {"type": "box", "size": _fmt(0.5 * float(v) for v in shape.get("size").split())}
        if shape.tag == "cylinder":
            return {"type": "cylinder", "size": _fmt([float(shape.get("radius")), 0.5 * float(shape.get("length"))])}
        if shape.tag == "sphere":
            return {"type": "sphere", "size": _fmt([float(shape.get("radius"))])}
        if shape.tag == "mesh":
            path = resolve_mesh_uri(shape.get("filename"))
            mesh_name = f"mesh_{len(self.mesh_assets)}"
            self.mesh_assets[mesh_name] = str(path)
            attrs = {"name": mesh_name, "file": str(path)}
            if shape.get("scale"):
                attrs["scale"] = shape.get("scale")
            ET.SubElement(self.asset, "mesh", attrs)
            return {"type": "mesh", "mesh": mesh_name}
        raise DescriptionError(f"link {link}: geometry <{shape.tag}> is not supported")

    def _joint(self, body: ET.Element, joint: ET.Element) -> None:
        info = self.model.joint(joint.get("name"))
        ET.SubElement(
            body,
            "joint",
            name=info.name,
            type="hinge" if joint.get("type") == "revolute" else "slide",
            axis=_fmt(info.axis),
            range=_fmt([info.lower, info.upper]),
            armature=f"{self.armature.get(info.kind, 0.0):.9g}",
            damping=f"{info.damping:.9g}",
            frictionloss=f"{info.friction:.9g}",
        )

    def _frame_site(self, body: ET.Element, frame: str, t: np.ndarray) -> None:
        bare = frame[len(self.model.prefix) :]
        attrs = {"name": frame, **_pose_attrs(t), "group": "4", "size": "0.005"}
        if bare.endswith("_tip") and bare.split("_")[1] in FINGERS:
            attrs.update(type="sphere", size=f"{self.options.touch_radius_m:.9g}", rgba="1 0.5 0 0.3")
        ET.SubElement(body, "site", attrs)
        self.site_frames.add(frame)
        if bare == CAMERA_FRAME:
            # MuJoCo cameras look along -z with y up; REP-103 optical frames look along +z with
            # y down: the camera axes are the optical x and -y.
            r = t[:3, :3]
            ET.SubElement(
                body,
                "camera",
                name=self.model.prefix + CAMERA_NAME,
                pos=_fmt(t[:3, 3]),
                xyaxes=_fmt(np.concatenate([r[:, 0], -r[:, 1]])),
                fovy=f"{camera_fovy_deg(self.urdf):.6g}",
            )

    def _actuators(self, mj: ET.Element) -> None:
        act = ET.SubElement(mj, "actuator")
        for info in self.model.joints:
            ET.SubElement(
                act,
                "general",
                name=info.name,
                joint=info.name,
                gaintype="fixed",
                gainprm="1",
                biastype="affine",
                biasprm="0 0 0",
                ctrllimited="false",
                forcelimited="true",
                forcerange=_fmt([-info.effort, info.effort]),
            )

    def _sensors(self, mj: ET.Element) -> None:
        """Sensors on the frames that exist (the whole robot has all of them; a hand has touch)."""
        p = self.model.prefix
        sensor = ET.SubElement(mj, "sensor")
        if p + IMU_SITE in self.site_frames:
            ET.SubElement(sensor, "framequat", name=f"{p}imu_orientation", objtype="site", objname=p + IMU_SITE)
            ET.SubElement(sensor, "gyro", name=f"{p}imu_gyro", site=p + IMU_SITE)
            ET.SubElement(sensor, "accelerometer", name=f"{p}imu_accel", site=p + IMU_SITE)
        for side in ("left", "right"):
            sole = f"{p}{side}_sole"
            if sole in self.site_frames:
                ET.SubElement(sensor, "force", name=f"{p}{side}_foot_force", site=sole)
                ET.SubElement(sensor, "torque", name=f"{p}{side}_foot_torque", site=sole)
            for finger in FINGERS:
                tip = f"{p}{side}_{finger}_tip"
                if tip in self.site_frames:
                    ET.SubElement(sensor, "touch", name=f"{p}{side}_{finger}_touch", site=tip)
        if len(sensor) == 0:
            mj.remove(sensor)


def camera_fovy_deg(urdf: ET.Element, aspect: float = 4 / 3) -> float:
    """Vertical field of view of the head camera, from the Gazebo sensor's horizontal FOV."""
    for sensor in urdf.iter("sensor"):
        hfov = sensor.find("camera/horizontal_fov")
        if sensor.get("type") in ("rgbd_camera", "depth_camera", "camera") and hfov is not None:
            return math.degrees(2 * math.atan(math.tan(float(hfov.text) / 2) / aspect))
    return 45.0


def resolve_mesh_uri(uri: str) -> pathlib.Path:
    """package://pkg/path and file:// mesh URIs -> a local path MuJoCo can read (STL, OBJ)."""
    if uri.startswith("package://"):
        pkg, _, rest = uri[len("package://") :].partition("/")
        path = share_dir(pkg) / rest
    else:
        path = pathlib.Path(uri.removeprefix("file://"))
    if path.suffix.lower() not in (".stl", ".obj"):
        raise DescriptionError(f"mesh {uri}: MuJoCo reads STL and OBJ meshes, not {path.suffix}")
    if not path.is_file():
        raise DescriptionError(f"mesh {uri}: file {path} does not exist")
    return path


def build_robot_mjcf(model: RobotModel, armature: dict[str, float], options: MjcfOptions = MjcfOptions()) -> str:
    """MJCF of the robot alone, to be included by a scene as forma_robot.xml."""
    root = _Builder(model, armature, options).build()
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")
