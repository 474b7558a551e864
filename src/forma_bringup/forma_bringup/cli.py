"""`forma`: the command line of the pip install.

forma launch sim                 bring up a deployment (config/deployments/sim.yaml)
forma launch my.yaml --host robot
forma check sim                  validate a deployment and print what would run
forma deployments                list the shipped deployments
forma nodes                      list the registered nodes
forma describe --body female --height 1.65 [--format urdf|mjcf|summary]
forma vla collect --seeds 0-299 --out DIR   demonstrations for a policy (forma_vla)
forma security keystore sim DIR  DDS-Security certificates and permissions for a deployment
forma launch sim --secure DIR    run it with DDS-Security enforced
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import pathlib
import sys

from forma_bringup.deployment import Deployment, load_deployment, with_overrides
from forma_bringup.errors import BringupError
from forma_bringup.launch_plan import plan_host, write_params_files
from forma_bringup.registry import available_nodes, node_exists


def config_dir() -> pathlib.Path:
    from forma_description.paths import share_dir

    return share_dir("forma_bringup") / "config"


def deployment_path(name_or_path: str) -> pathlib.Path:
    p = pathlib.Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            raise BringupError(f"deployment file {p} does not exist")
        return p
    path = config_dir() / "deployments" / f"{name_or_path}.yaml"
    if not path.is_file():
        names = ", ".join(sorted(q.stem for q in (config_dir() / "deployments").glob("*.yaml")))
        raise BringupError(f"unknown deployment {name_or_path!r}; available: {names}")
    return path


def load(name_or_path: str) -> Deployment:
    path = deployment_path(name_or_path)
    base = config_dir() if path.parent == config_dir() / "deployments" else path.resolve().parent.parent
    return load_deployment(path, base, node_exists, available_nodes)


def _cmd_launch(args) -> int:
    from forma_bringup.runner import Runner

    deployment = with_overrides(load(args.deployment), args.param or [])
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    log_dir = pathlib.Path(
        args.log_dir or pathlib.Path.home() / ".ros" / "log" / "forma" / f"{deployment.name}-{stamp}"
    )
    plans = plan_host(deployment, args.host, log_dir / "params")
    if args.secure:
        plans = _secured(deployment, plans, pathlib.Path(args.secure))
    write_params_files(plans)
    print(f"[forma] deployment {deployment.name}: {deployment.description}".rstrip(": "), flush=True)
    return Runner(plans, log_dir).run()


def _secured(deployment: Deployment, plans: list, keystore: pathlib.Path) -> list:
    """Each process with DDS-Security enforced under its own enclave of the keystore."""
    from forma_bringup.security import enclave_name, security_env

    env = security_env(keystore)
    secured = []
    for plan in plans:
        enclave = enclave_name(deployment, plan.name)
        if not (keystore / "enclaves" / enclave.lstrip("/") / "permissions.p7s").is_file():
            make = f"forma security keystore {deployment.name} {keystore}"
            raise BringupError(f"keystore {keystore} has no enclave {enclave}: run `{make}`")
        secured.append(dataclasses.replace(plan, env={**plan.env, **env, "ROS_SECURITY_ENCLAVE_OVERRIDE": enclave}))
    return secured


def _cmd_security_keystore(args) -> int:
    from forma_bringup.security import absent_processes, create_keystore, load_protected_topics

    deployment = load(args.deployment)
    protected = load_protected_topics(
        pathlib.Path(args.protected or config_dir() / "security" / "protected_topics.yaml")
    )
    keystore = pathlib.Path(args.keystore)
    absent = absent_processes(deployment, protected)
    if absent:
        print(f"not in {deployment.name} (their grants go to nobody): {', '.join(absent)}")
    for enclave in create_keystore(keystore, deployment, protected):
        grants = ", ".join(enclave.may_publish) or "no protected topic"
        print(f"{enclave.name}: {enclave.directory} (may publish {grants})")
    print(f"run it secured: forma launch {deployment.name} --secure {keystore}")
    return 0


def _cmd_check(args) -> int:
    deployment = load(args.deployment)
    print(f"{deployment.name}: valid. {deployment.description}")
    for host in deployment.hosts:
        print(f"host {host}:")
        for plan in plan_host(deployment, host, "<run>/params"):
            print(f"  {plan.name}: {' '.join(plan.argv())}")
    return 0


def _cmd_deployments(args) -> int:
    for path in sorted((config_dir() / "deployments").glob("*.yaml")):
        d = load_deployment(path, config_dir())
        print(f"{d.name:16s} {d.description}")
    return 0


def _cmd_nodes(args) -> int:
    for name in available_nodes():
        print(name)
    return 0


def _cmd_describe(args) -> int:
    from forma_description import RobotModel, expand_description

    urdf = expand_description(args.body, args.height, args.mass, args.hardware, args.prefix)
    if args.format == "urdf":
        sys.stdout.write(urdf)
    elif args.format == "controllers":
        from forma_description.controllers import controllers_yaml

        sys.stdout.write(controllers_yaml(RobotModel.from_urdf(urdf, args.prefix)))
    elif args.format == "mjcf":
        from forma_description.joint_table import armature_by_kind
        from forma_description.mjcf import build_robot_mjcf

        sys.stdout.write(build_robot_mjcf(RobotModel.from_urdf(urdf, args.prefix), armature_by_kind()))
    else:
        robot = RobotModel.from_urdf(urdf, args.prefix)
        print(
            f"{robot.name}: {len(robot.joints)} actuated joints, {robot.total_mass_kg:.2f} kg, root {robot.root_link}"
        )
        for group in ("body", "left_hand", "right_hand"):
            print(f"  {group}: {len(robot.group_joint_names(group))} joints")
        for j in robot.joints:
            print(f"  {j.name:32s} [{j.lower:+.2f}, {j.upper:+.2f}] rad  {j.velocity:5.1f} rad/s  {j.effort:6.1f} N m")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forma", description="Forma humanoid stack (pip install)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("launch", help="bring up a deployment")
    p.add_argument("deployment", help="name in config/deployments or a path to a deployment file")
    p.add_argument("--host", help="which host of a multi-host deployment runs here")
    p.add_argument("--log-dir", help="where process logs go (default ~/.ros/log/forma/<deployment>-<time>)")
    p.add_argument(
        "--param",
        action="append",
        metavar="NODE.PARAM=VALUE",
        help="override a node parameter, e.g. --param console.port=8081 --param sim.world=empty",
    )
    p.add_argument(
        "--secure",
        metavar="KEYSTORE",
        help="enforce DDS-Security with this keystore (forma security keystore); fails closed without it",
    )
    p.set_defaults(func=_cmd_launch)
    p = sub.add_parser("security", help="DDS-Security (SROS2) keystores")
    security = p.add_subparsers(dest="security_command", required=True)
    p = security.add_parser("keystore", help="certificates and signed permissions for every process of a deployment")
    p.add_argument("deployment")
    p.add_argument("keystore", help="directory (created; an existing CA in it is reused)")
    p.add_argument("--protected", help="protected topics file (default config/security/protected_topics.yaml)")
    p.set_defaults(func=_cmd_security_keystore)
    p = sub.add_parser("check", help="validate a deployment and show its processes")
    p.add_argument("deployment")
    p.set_defaults(func=_cmd_check)
    sub.add_parser("deployments", help="list shipped deployments").set_defaults(func=_cmd_deployments)
    sub.add_parser("nodes", help="list registered nodes").set_defaults(func=_cmd_nodes)
    p = sub.add_parser("describe", help="expand the robot description")
    p.add_argument("--body", default="male")
    p.add_argument("--height", type=float, default=1.73, help="[m]")
    p.add_argument("--mass", type=float, default=65.0, help="[kg]")
    p.add_argument("--hardware", default="mock", help="ros2_control plugin: mock, gazebo, topic")
    p.add_argument("--prefix", default="")
    p.add_argument("--format", choices=("summary", "urdf", "mjcf", "controllers"), default="summary")
    p.set_defaults(func=_cmd_describe)
    from forma_bringup.process_host import main as process_host
    from forma_record.cli import add_commands
    from forma_vla.cli import add_commands as add_vla_commands

    add_commands(sub, process_host)
    add_vla_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)  # pip venv: packages live in sys.prefix
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (BringupError, ValueError) as exc:  # DeploymentError, DescriptionError, RecordError...: say what and why
        print(f"forma: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
