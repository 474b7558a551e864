"""docker/: the two images and the compose file, checked structurally.

No Docker engine runs here or in CI, so nothing is built. The Dockerfiles are read instruction by
instruction and compose.yaml as YAML, and every repository path, launch file, deployment, host
and node they name is checked against the repository, so that renaming one of those breaks a
test instead of a build nobody runs.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shlex

import pytest
import yaml

from forma_bringup.cli import build_parser
from forma_bringup.deployment import load_deployment, with_overrides
from forma_bringup.registry import available_nodes, node_exists

REPO = pathlib.Path(__file__).resolve().parents[3]
DOCKER = REPO / "docker"
# Where each image puts the repository. The ROS image: a colcon workspace /ws with the repo as
# one source tree; the pip image: the repo itself, where `make setup` creates .venv.
IMAGE_ROOT = {"Dockerfile.ros": "/ws/src/forma", "Dockerfile.pip": "/forma"}
# Made inside the image, not copied from the repo: the pip venv and the colcon trees.
GENERATED = (".venv", "build", "install", "log")


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: comments dropped, continued lines joined."""
    out, current = [], ""
    for raw in (DOCKER / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):  # Docker drops these, also inside a continuation
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        keyword, _, args = (current + line).partition(" ")
        out.append((keyword.upper(), args.strip()))
        current = ""
    assert not current, f"{name}: the last instruction ends in a line continuation"
    return out


def args_of(instrs: list[tuple[str, str]], keyword: str) -> list[str]:
    return [args for kw, args in instrs if kw == keyword]


def exec_form(args: str) -> list[str]:
    """CMD/ENTRYPOINT in exec (JSON) form; the shell form would wrap it in `/bin/sh -c`."""
    argv = json.loads(args)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), args
    return argv


def last(instrs: list[tuple[str, str]], keyword: str) -> str:
    found = args_of(instrs, keyword)
    assert found, f"no {keyword}"
    return found[-1]  # only the last CMD/ENTRYPOINT counts


def index_of_run(instrs: list[tuple[str, str]], pattern: str) -> int:
    """Index of the first RUN whose command matches the regex pattern."""
    for i, (kw, args) in enumerate(instrs):
        if kw == "RUN" and re.search(pattern, args):
            return i
    raise AssertionError(f"no RUN matches {pattern!r}")


def workdir_at(instrs: list[tuple[str, str]], index: int) -> str:
    dirs = [args for kw, args in instrs[:index] if kw == "WORKDIR"]
    return dirs[-1] if dirs else "/"


def copies(instrs: list[tuple[str, str]]) -> list[tuple[int, str, str]]:
    """(instruction index, repo path, where it lands in the image) for every COPY source."""
    out = []
    for i, (kw, args) in enumerate(instrs):
        if kw != "COPY":
            continue
        tokens = shlex.split(args)
        assert not any(t.startswith("--from") for t in tokens), "a COPY --from has no repo source"
        *sources, dest = [t for t in tokens if not t.startswith("--")]
        assert len(sources) == 1 or dest.endswith("/"), f"COPY of several sources needs a dir/: {args}"
        for source in sources:
            source = source.rstrip("/")
            if (REPO / source).is_dir():  # a directory's contents land in dest
                target = dest.rstrip("/")
            elif dest.endswith("/"):
                target = dest + pathlib.PurePosixPath(source).name
            else:
                target = dest
            out.append((i, source, target))
    return out


def covered(rel: str, sources: list[str]) -> bool:
    return any(rel == s or rel.startswith(s + "/") for s in sources)


ROS = instructions("Dockerfile.ros")
PIP = instructions("Dockerfile.pip")
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]


# --- Dockerfile.ros -------------------------------------------------------------------------


def test_ros_image_is_built_on_jazzy():
    bases = args_of(ROS, "FROM")
    assert bases, "no FROM"
    for base in bases:
        assert re.fullmatch(r"(osrf/)?ros:jazzy-[a-z-]+( AS \w+)?", base, re.IGNORECASE), base


def test_ros_image_installs_pinned_pip_deps_then_rosdep_then_colcon_build():
    pip = index_of_run(ROS, r"pip install .*--break-system-packages.* -r \S*/requirements/ros-install\.txt")
    rosdep = index_of_run(ROS, r"rosdep install --from-paths src --ignore-src -y")
    colcon = index_of_run(ROS, r"colcon build")
    # Pinned pip installs first: rosdep skips a pip key (python3-mujoco-pip) whose package is
    # already installed, so the pins survive; rosdep before colcon, which needs what it installs.
    assert pip < rosdep < colcon
    # `--from-paths src` and `colcon build` are relative: they must run in the workspace that
    # holds the repo under src/.
    workspace = workdir_at(ROS, rosdep)
    assert IMAGE_ROOT["Dockerfile.ros"].startswith(workspace + "/src/")
    assert workdir_at(ROS, colcon) == workspace
    assert "/opt/ros/jazzy/setup.bash" in ROS[colcon][1], "colcon build needs the ROS underlay sourced"


def test_ros_image_has_what_mujoco_offscreen_rendering_needs():
    # The EGL packages tools/bootstrap.sh installs on the pip side, which have no rosdep key.
    bootstrap = (REPO / "tools" / "bootstrap.sh").read_text()
    egl = [p for p in ("libegl1", "libegl-mesa0", "libgl1-mesa-dri") if re.search(rf"\b{p}\b", bootstrap)]
    assert egl, "tools/bootstrap.sh names no EGL package any more: update this test"
    apt = " ".join(args for kw, args in ROS if kw == "RUN" and "apt-get install" in args)
    for package in egl:
        assert re.search(rf"\s{re.escape(package)}(\s|$)", apt), f"{package} is not apt-installed"


def test_ros_image_gazebo_option_installs_jazzy_gz_and_ros2_control():
    assert any(re.fullmatch(r"GAZEBO(=\w+)?", a) for a in args_of(ROS, "ARG")), "no ARG GAZEBO"
    gz = ROS[index_of_run(ROS, r"ros-jazzy-ros-gz\b")][1]
    assert "$GAZEBO" in gz, "the Gazebo packages must depend on the GAZEBO build argument"
    for package in (
        "ros-jazzy-ros-gz",
        "ros-jazzy-gz-ros2-control",
        "ros-jazzy-ros2-control",
        "ros-jazzy-ros2-controllers",
    ):
        assert package in gz.split()


def test_ros_packages_are_all_jazzy():
    # Never mix distributions (DESIGN §8): every ros-<distro>-* Debian package must be Jazzy's.
    for dockerfile in (ROS, PIP):
        for kw, args in dockerfile:
            if kw == "RUN":
                for token in args.split():
                    if token.startswith("ros-") and not token.endswith(".txt"):
                        assert token.startswith("ros-jazzy-"), token


def test_ros_entrypoint_sources_ros_and_the_workspace():
    entrypoint = exec_form(last(ROS, "ENTRYPOINT"))
    script = entrypoint[0]
    writer = ROS[index_of_run(ROS, rf">\s*{re.escape(script)}\b")][1]
    ros, workspace = "source /opt/ros/jazzy/setup.bash", "source /ws/install/setup.bash"
    assert ros in writer and workspace in writer and writer.index(ros) < writer.index(workspace)
    assert 'exec "$@"' in writer, 'the entrypoint must end in exec "$@" so the CMD replaces it'
    assert f"chmod +x {script}" in writer
    # colcon writes install/ in the directory it runs in.
    assert workdir_at(ROS, index_of_run(ROS, r"colcon build")) == "/ws"


def test_ros_image_default_command_launches_forma_bringup():
    argv = exec_form(last(ROS, "CMD"))
    assert argv[:3] == ["ros2", "launch", "forma_bringup"]
    # forma_bringup installs its launch/ directory (setup.py: launch/*.launch.py).
    launch_file = REPO / "src" / "forma_bringup" / "launch" / argv[3]
    assert argv[3].endswith(".launch.py") and launch_file.is_file(), argv[3]


# --- Dockerfile.pip -------------------------------------------------------------------------


def test_pip_image_is_debian_bookworm():
    bases = args_of(PIP, "FROM")
    assert len(bases) == 1
    # The machine the pip install targets: Debian 12 with Python 3.11 (the wheels are cp311).
    assert re.fullmatch(r"debian:(12|bookworm)(-slim)?|python:3\.11(\.\d+)?-(slim-)?bookworm", bases[0]), bases[0]


def test_pip_image_runs_make_setup_in_the_copied_repo():
    setup = index_of_run(PIP, r"\bmake setup\b")
    workdir = workdir_at(PIP, setup)
    landed = {source: target for i, source, target in copies(PIP) if i < setup}
    assert landed.get("Makefile") == f"{workdir}/Makefile", "make setup must run where the Makefile is"
    assert re.search(r"^setup:\n\t@?tools/bootstrap\.sh$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert covered("tools/bootstrap.sh", list(landed))
    # COPY keeps file modes: the Makefile runs the script directly.
    assert os.access(REPO / "tools" / "bootstrap.sh", os.X_OK)


def test_pip_image_default_command_is_a_valid_forma_launch_reachable_from_outside():
    argv = exec_form(last(PIP, "CMD"))
    root = IMAGE_ROOT["Dockerfile.pip"]
    assert argv[0] == f"{root}/.venv/bin/forma", "the forma of the venv `make setup` creates (Makefile VENV)"
    args = build_parser().parse_args(argv[1:])  # forma's own parser: fails on a bad command line
    assert args.command == "launch"
    path = REPO / "config" / "deployments" / f"{args.deployment}.yaml"
    deployment = with_overrides(load_deployment(path, REPO / "config", node_exists, available_nodes), args.param or [])
    consoles = [n for procs in deployment.hosts.values() for p in procs for n in p.nodes if n.node == "console"]
    assert consoles, f"deployment {args.deployment} has no browser view"
    # Inside a container 127.0.0.1 is the container's own loopback: a published port reaches
    # only a view that listens on all interfaces.
    params = yaml.safe_load((REPO / "config" / "params" / "forma.yaml").read_text())["console"]["ros__parameters"]
    for console in consoles:
        assert console.parameters.get("host", params["host"]) == "0.0.0.0"
        assert console.parameters.get("access_token_file"), "bound wide, the console needs its access token"
        port = console.parameters.get("port", params["port"])
        assert str(port) in args_of(PIP, "EXPOSE"), f"console port {port} is not EXPOSEd"


# --- both Dockerfiles -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Dockerfile.ros", "Dockerfile.pip"])
def test_copied_paths_exist_and_keep_the_repository_layout(name):
    instrs = instructions(name)
    root = IMAGE_ROOT[name]
    found = copies(instrs)
    assert found, "copies nothing from the repository"
    for _, source, target in found:
        assert (REPO / source).exists(), f"COPY {source}: no such path in the repository"
        # Never the whole checkout: a local .venv (1 GB, with ROS wheels' package.xml files that
        # colcon would take for duplicate packages) and build/ would come along.
        assert source not in (".", "") and source.split("/")[0] not in GENERATED, source
        # The repo keeps its layout under one root, so relative paths and symlinks still hold.
        assert target == f"{root}/{source}", f"COPY {source} lands at {target}, not {root}/{source}"
    # The symlinks under src/ (src/forma_bringup/config -> ../../config, ...) are copied as
    # symlinks: what they point to must be copied too.
    sources = [source for _, source, _ in found]
    for link in (REPO / "src").rglob("*"):
        if link.is_symlink() and covered(link.relative_to(REPO).as_posix(), sources):
            target = os.path.normpath(link.parent / os.readlink(link))
            assert covered(pathlib.Path(target).relative_to(REPO).as_posix(), sources), f"{link} dangles in {name}"


@pytest.mark.parametrize("name", ["Dockerfile.ros", "Dockerfile.pip"])
def test_image_has_every_ros_package(name):
    # colcon (ROS image) and tools/bootstrap.sh (pip image) build every package under src/.
    sources = [source for _, source, _ in copies(instructions(name))]
    packages = sorted(p.parent.relative_to(REPO).as_posix() for p in (REPO / "src").glob("*/package.xml"))
    assert packages, "no packages under src/"
    missing = [p for p in packages if not covered(p, sources)]
    assert not missing, f"{name} does not copy {missing}"


def test_pip_image_has_what_bootstrap_reads():
    # Every $ROOT/... path of tools/bootstrap.sh except what it creates (.venv, build).
    bootstrap = (REPO / "tools" / "bootstrap.sh").read_text()
    used = sorted(set(re.findall(r"\$ROOT/([\w./-]+)", bootstrap)) - set(GENERATED))
    assert "requirements/constraints.txt" in used, "tools/bootstrap.sh changed: update this test"
    sources = [source for _, source, _ in copies(PIP)]
    missing = [p for p in used if not covered(p, sources)]
    assert not missing, f"Dockerfile.pip does not copy {missing}, which tools/bootstrap.sh reads"


@pytest.mark.parametrize("name", ["Dockerfile.ros", "Dockerfile.pip"])
def test_repository_paths_used_in_the_image_exist_and_are_copied_first(name):
    instrs = instructions(name)
    root = IMAGE_ROOT[name]
    found = copies(instrs)
    for i, (kw, args) in enumerate(instrs):
        if kw not in ("RUN", "CMD", "ENTRYPOINT"):
            continue
        for path in re.findall(rf"{re.escape(root)}/[\w./-]+", args):
            rel = path[len(root) + 1 :].rstrip("/.")
            if rel.split("/")[0] in GENERATED:
                continue
            assert (REPO / rel).exists(), f"{kw} uses {path}: no {rel} in the repository"
            assert covered(rel, [s for j, s, _ in found if j < i]), f"{kw} uses {path} before it is copied"


# --- compose.yaml -----------------------------------------------------------------------------


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # compose also takes ["KEY=value", ...]
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def launch_arguments(service: dict) -> tuple[str, dict[str, str]]:
    """Launch file and `name:=value` arguments of a service's `ros2 launch forma_bringup` command."""
    command = service["command"]
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    assert argv[:3] == ["ros2", "launch", "forma_bringup"], argv
    return argv[3], dict(a.split(":=", 1) for a in argv[4:])


def test_compose_has_a_robot_and_a_second_host():
    assert "robot" in SERVICES and len(SERVICES) >= 2, list(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_compose_service_uses_host_networking(name):
    service = SERVICES[name]
    # DDS discovery is UDP multicast, which Docker's bridge network does not carry between
    # containers or machines; Fast DDS then uses shared memory between same-host containers.
    assert service.get("network_mode") == "host"
    assert service.get("ipc") == "host"
    assert service.get("pid") == "host"


def test_compose_services_share_one_ros_domain():
    domains = {name: environment(s).get("ROS_DOMAIN_ID") for name, s in SERVICES.items()}
    assert None not in domains.values(), f"a service sets no ROS_DOMAIN_ID: {domains}"
    assert len(set(domains.values())) == 1, domains
    # A literal or ${VAR:-default}; the default (or value) must be a usable domain on Linux.
    value = domains["robot"]
    m = re.fullmatch(r"\$\{ROS_DOMAIN_ID:-(\d+)\}|(\d+)", value)
    assert m, value
    assert 0 <= int(m.group(1) or m.group(2)) <= 101, "ROS 2 domains above 101 clash with ephemeral ports on Linux"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_compose_service_builds_the_ros_image(name):
    build = SERVICES[name]["build"]
    context = (DOCKER / build["context"]).resolve()
    dockerfile = context / build["dockerfile"]
    assert context == REPO, "the Dockerfiles COPY repository paths: the context is the repository"
    assert dockerfile.is_file(), dockerfile
    # The services run `ros2 launch`, which only the ROS 2 install has.
    assert dockerfile == DOCKER / "Dockerfile.ros"


def test_compose_commands_run_every_host_of_one_deployment_once():
    hosts_run, deployments = [], set()
    for name, service in SERVICES.items():
        launch_file, arguments = launch_arguments(service)
        assert (REPO / "src" / "forma_bringup" / "launch" / launch_file).is_file(), launch_file
        assert set(arguments) <= {"deployment", "host"}, f"{name}: forma.launch.py takes deployment and host"
        path = REPO / "config" / "deployments" / f"{arguments['deployment']}.yaml"
        assert path.is_file(), f"{name}: no deployment file {path.relative_to(REPO)}"
        hosts = yaml.safe_load(path.read_text())["hosts"]
        assert arguments.get("host") in hosts, f"{name}: host {arguments.get('host')!r} not in {list(hosts)}"
        load_deployment(path, REPO / "config", node_exists, available_nodes)  # and it is a valid deployment
        hosts_run.append(arguments["host"])
        deployments.add(path)
    assert len(deployments) == 1, "the services split one deployment"
    assert sorted(hosts_run) == sorted(hosts), f"every host once: compose runs {hosts_run}, the file has {list(hosts)}"


def test_compose_gpu_service_reserves_an_nvidia_gpu():
    # The second host is where VLA inference will run (DESIGN §6); the robot stays GPU-free.
    devices = SERVICES["operator"]["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices), devices
    assert "deploy" not in SERVICES["robot"]
