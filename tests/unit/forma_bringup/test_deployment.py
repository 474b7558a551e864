"""Deployment files: validation with file/field/reason, and the pure deployment -> process mapping
that both `forma launch` and launch/forma.launch.py use."""

from __future__ import annotations

import ast
import pathlib

import pytest
import yaml

from forma_bringup.cli import config_dir, load
from forma_bringup.deployment import parse_deployment
from forma_bringup.errors import DeploymentError
from forma_bringup.launch_plan import launch_ros_node_kwargs, plan_host, write_params_files
from forma_bringup.registry import available_nodes, node_exists

REPO = pathlib.Path(__file__).resolve().parents[3]


def parse(raw, source="test.yaml"):
    return parse_deployment(raw, source, config_dir(), node_exists, available_nodes)


def minimal(**over):
    raw = {"name": "test", "hosts": {"local": {"processes": [{"name": "sim", "nodes": [{"node": "sim"}]}]}}}
    raw.update(over)
    return raw


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "config" / "deployments").glob("*.yaml")))
def test_shipped_deployments_are_valid(name):
    d = load(name)
    assert d.name == name and d.hosts


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "config" / "deployments").glob("*.yaml")))
def test_shipped_consoles_reachable_from_the_network_name_their_access_token(name):
    """A console bound to a non-loopback address refuses to start without access_token_file."""
    from forma_console.access import is_loopback

    defaults = yaml.safe_load((REPO / "config" / "params" / "forma.yaml").read_text())["console"]["ros__parameters"]
    path = REPO / "config" / "deployments" / f"{name}.yaml"
    d = parse(yaml.safe_load(path.read_text()), str(path))  # this checkout's file, not the installed one
    for node in (n for procs in d.hosts.values() for p in procs for n in p.nodes if n.node == "console"):
        if not is_loopback(str(node.parameters.get("host", defaults["host"]))):
            assert node.parameters.get("access_token_file"), f"{name}: a console bound wide without a token file"


def test_registered_nodes():
    assert {"sim", "stand", "console"} <= set(available_nodes())


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (lambda r: r.pop("hosts"), "hosts", "missing"),
        (lambda r: r.update(name="other"), "name", "must match the file name 'test'"),
        (lambda r: r.update(speed=3), "speed", "unknown key; valid keys"),
        (lambda r: r.update(namespace="bad ns"), "namespace", "not a valid ROS namespace"),
        (lambda r: r.update(use_sim_time="yes"), "use_sim_time", "expected true or false"),
        (lambda r: r.update(parameters=["params/nope.yaml"]), "parameters[0]", "does not exist"),
        (
            lambda r: r["hosts"]["local"]["processes"][0]["nodes"][0].update(node="simm"),
            "hosts.local.processes[0].nodes[0].node",
            "unknown node 'simm'; available: ",
        ),
        (
            lambda r: r["hosts"]["local"]["processes"][0].update(executor="fast"),
            "hosts.local.processes[0].executor",
            "'fast'; valid: single, multi, events",
        ),
        (
            lambda r: r["hosts"]["local"]["processes"].append({"name": "sim", "nodes": [{"node": "stand"}]}),
            "hosts.local.processes[1].name",
            "used twice",
        ),
        (
            lambda r: r["hosts"]["local"]["processes"].append({"name": "b", "nodes": [{"node": "sim"}]}),
            "hosts.local.processes[1].nodes[0].name",
            "node /sim appears twice",
        ),
        (
            lambda r: r["hosts"]["local"]["processes"][0].update(nodes=[]),
            "hosts.local.processes[0].nodes",
            "at least one node",
        ),
        (
            lambda r: r["hosts"]["local"]["processes"][0]["nodes"][0].update(parameters={"camera": {"width": 1}}),
            "hosts.local.processes[0].nodes[0].parameters.camera",
            "dotted names",
        ),
        (
            lambda r: r["hosts"]["local"]["processes"][0].update(respawn_delay_s=100),
            "hosts.local.processes[0].respawn_delay_s",
            "outside 0..60 s",
        ),
        (
            lambda r: r["hosts"]["local"]["processes"][0].update(nice=-5),
            "hosts.local.processes[0].nice",
            "outside 0..19",
        ),
        (
            lambda r: r["hosts"]["local"]["processes"][0].update(nice="low"),
            "hosts.local.processes[0].nice",
            "an integer",
        ),
        (
            lambda r: r["hosts"]["local"]["processes"][0].update(realtime_priority=99),
            "hosts.local.processes[0].realtime_priority",
            "outside 0..98",
        ),
        (
            lambda r: r["hosts"]["local"]["processes"][0].update(realtime_priority=50, nice=10),
            "hosts.local.processes[0].realtime_priority",
            "set one of the two",
        ),
        (
            lambda r: r["hosts"]["local"]["processes"][0].update(cpus=1),
            "hosts.local.processes[0].cpus",
            "a list of CPU numbers",
        ),
        (
            lambda r: r["hosts"]["local"]["processes"][0].update(cpus=[-1]),
            "hosts.local.processes[0].cpus",
            "CPU numbers 0..1023",
        ),
        (
            lambda r: r["hosts"]["local"]["processes"][0].update(cpus=[1, 1]),
            "hosts.local.processes[0].cpus",
            "names a CPU twice",
        ),
    ],
)
def test_broken_deployment_names_file_field_and_reason(mutate, field, reason):
    raw = minimal()
    mutate(raw)
    with pytest.raises(DeploymentError) as err:
        parse(raw)
    assert err.value.source == "test.yaml" and err.value.field == field
    assert reason in err.value.reason
    assert str(err.value).startswith(f"test.yaml: {field}: ")


def test_broken_yaml_file_names_the_file(tmp_path):
    from forma_bringup.deployment import load_deployment

    bad = tmp_path / "deployments" / "x.yaml"
    bad.parent.mkdir()
    bad.write_text("name: x\nhosts: [")
    with pytest.raises(DeploymentError, match=r"x.yaml: \(file\): not valid YAML"):
        load_deployment(bad)


def test_multi_host_deployment_needs_a_host():
    d = load("sim_two_hosts")
    with pytest.raises(DeploymentError, match="choose one with --host"):
        d.processes(None)
    with pytest.raises(DeploymentError, match="no host 'laptop'; hosts: robot, operator"):
        d.processes("laptop")
    assert [p.name for p in d.processes("robot")] == ["sim", "control"]
    assert [p.name for p in d.processes("operator")] == ["console"]


def test_plan_maps_processes_nodes_parameters_and_remaps(tmp_path):
    raw = minimal(
        namespace="/forma1",
        use_sim_time=True,
        parameters=["params/forma.yaml"],
        env={"FOO": "1"},
    )
    raw["hosts"]["local"]["processes"] = [
        {
            "name": "sim",
            "realtime_priority": 50,
            "cpus": [0],
            "nodes": [{"node": "sim", "parameters": {"world": "empty", "camera.width": 640}}],
        },
        {
            "name": "ctl",
            "executor": "multi",
            "respawn": True,
            "nice": 10,
            "nodes": [
                {"node": "stand", "name": "stand_a", "namespace": "left", "remappings": {"joint_states": "js"}},
                {"node": "console", "parameters": {"use_sim_time": False}},
            ],
        },
    ]
    plans = plan_host(parse(raw), None, tmp_path)
    assert [p.name for p in plans] == ["sim", "ctl"]
    sim, ctl = plans
    assert sim.argv()[:12] == [
        "forma_process",
        "--process",
        "sim",
        "--executor",
        "single",
        "--realtime-priority",  # the process host applies it (both under forma launch and launch_ros)
        "50",
        "--cpus",  # so does it the CPUs
        "0",
        "--node",
        "sim:sim",
        "--ros-args",
    ]
    assert tuple(sim.ros_arguments[2:4]) == ("-r", "sim:__ns:=/forma1")
    params = sim.parameters["/forma1/sim"]["ros__parameters"]
    assert params["world"] == "empty"  # inline override wins over params/forma.yaml
    assert params["camera.width"] == 640 and params["mode"] == "simtime"  # file values kept
    assert params["use_sim_time"] is True
    assert ctl.arguments == (
        "--process",
        "ctl",
        "--executor",
        "multi",
        "--node",
        "stand:stand_a",
        "--node",
        "console:console",
    )
    assert "stand_a:__ns:=/forma1/left" in ctl.ros_arguments
    assert "stand_a:joint_states:=js" in ctl.ros_arguments
    assert ctl.parameters["/forma1/console"]["ros__parameters"]["use_sim_time"] is False
    # parameter files are keyed by ROS node name, as in ROS: the renamed node gets none of `stand:`
    assert "rate_hz" not in ctl.parameters["/forma1/left/stand_a"]["ros__parameters"]
    assert ctl.respawn and not ctl.required and sim.required
    # numeric libraries single-threaded unless the deployment says otherwise, then its own env
    assert sim.env == {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "FOO": "1"}

    write_params_files(plans)
    written = yaml.safe_load(pathlib.Path(sim.params_file).read_text())
    assert written == {"/forma1/sim": sim.parameters["/forma1/sim"]}

    kwargs = launch_ros_node_kwargs(ctl)
    assert kwargs["package"] == "forma_bringup" and kwargs["executable"] == "forma_process"
    assert kwargs["arguments"] == list(ctl.arguments) and kwargs["ros_arguments"] == list(ctl.ros_arguments)
    assert kwargs["respawn"] is True and kwargs["respawn_delay"] == 1.0
    assert "name" not in kwargs and "namespace" not in kwargs  # would rename every node of the process
    assert ctl.nice == 10 and kwargs["prefix"] == "nice -n 10" and "prefix" not in launch_ros_node_kwargs(sim)


def test_launch_files_are_thin_and_typed():
    """launch_ros is not on the pip side: check the launch files' structure here (they are run
    under the real launch_ros in development sessions; see docs/VERIFICATION.md)."""
    for path in sorted((REPO / "launch").glob("*.launch.py")):
        tree = ast.parse(path.read_text())
        gen = [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "generate_launch_description"]
        assert gen, f"{path.name} lacks generate_launch_description"
        assert ast.unparse(gen[0].returns) == "LaunchDescription", f"{path.name}: type it -> LaunchDescription"
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "DeclareLaunchArgument":
                assert any(k.arg == "description" for k in call.keywords), f"{path.name}: argument lacks a description"
    forma = (REPO / "launch" / "forma.launch.py").read_text()
    assert "launch_ros_node_kwargs" in forma and "plan_host" in forma


def test_param_overrides_reach_the_named_node_only():
    from forma_bringup.deployment import with_overrides

    d = with_overrides(
        load("sim"), ["sim.world=empty", "sim.camera.width=160", "console.port=8099", "wbc.com_gain=12.0"]
    )
    nodes = {n.name: n for p in d.processes() for n in p.nodes}
    assert nodes["sim"].parameters["world"] == "empty" and nodes["sim"].parameters["camera.width"] == 160
    assert nodes["sim"].parameters["initial_pose"] == "stand_balanced"  # the deployment's own value stays
    assert nodes["console"].parameters["port"] == 8099 and nodes["console"].parameters["use_sim_time"] is False
    assert nodes["wbc"].parameters == {"pose": "stand_balanced", "rate_hz": 250.0, "com_gain": 12.0}
    with pytest.raises(DeploymentError, match="no node named 'simm'"):
        with_overrides(load("sim"), ["simm.world=empty"])
    with pytest.raises(DeploymentError, match="expected NODE.PARAM=VALUE"):
        with_overrides(load("sim"), ["world=empty"])


@pytest.mark.parametrize("bad", ["a", "1,x", "-1", ""])
def test_the_process_host_refuses_a_cpu_list_it_cannot_read(bad, capsys):
    from forma_bringup.process_host import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--process", "sim", "--cpus", bad, "--node", "sim"])
    assert "--cpus" in capsys.readouterr().err
    assert parse_args(["--process", "sim", "--cpus", "0,1", "--node", "sim"]).cpus == (0, 1)
