"""Deployment files (config/deployments/*.yaml): hosts -> processes -> nodes.

The same file drives `forma launch` (pip install) and launch/forma.launch.py (ROS 2 install).
Loading validates everything and fails naming the file, the field and the reason, e.g.
`sim.yaml: hosts.local.processes[0].nodes[0].node: unknown node 'simm'; available: sim, stand`.

Schema (all keys but `name` and `hosts` optional):

    name: sim                        # must match the file name
    description: text
    namespace: ""                    # robot namespace for every node ("" or "/robot1")
    use_sim_time: true               # set on every node
    parameters: [params/forma.yaml]  # files under config/ (or absolute), keyed by node name
    env: {VAR: value}                # extra environment for every process
    hosts:
      <host>:                        # "local", or a machine's hostname
        processes:
          - name: sim                # unique in the deployment
            executor: single         # single | multi | events (see process_host.py)
            respawn: false           # restart when it exits
            respawn_delay_s: 1.0
            required: true           # when it exits (and does not respawn) stop everything
            nice: 0                  # 0..19: lower CPU priority (the console and face yield to control)
            realtime_priority: 0     # 1..98: SCHED_FIFO for a control loop's process (needs the
                                     # privilege, else it runs at normal priority); 0: normal
            cpus: []                 # CPUs the process's control loop thread runs on (a core of its
                                     # own); [] = any; ones the machine lacks are left out
            env: {VAR: value}
            nodes:
              - node: sim            # a registered node (entry point group forma.nodes)
                name: sim            # ROS node name; default = node
                namespace: ""        # relative to the deployment namespace
                parameters: {key: value}   # overrides on top of the parameter files
                remappings: {from: to}
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
from collections.abc import Callable, Mapping

import yaml

from forma_bringup.errors import DeploymentError
from forma_common.scheduling import MAX_PRIORITY

MAX_CPU = 1023  # the kernel's usual CPU mask size

EXECUTORS = ("single", "multi", "events")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_NAMESPACE = re.compile(r"^(/[A-Za-z][A-Za-z0-9_]*)*$")


@dataclasses.dataclass(frozen=True)
class NodeSpec:
    node: str  # registry name
    name: str  # ROS node name
    namespace: str  # absolute, "" = root
    parameters: Mapping[str, object]
    remappings: Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class ProcessSpec:
    name: str
    host: str
    nodes: tuple[NodeSpec, ...]
    executor: str = "single"
    respawn: bool = False
    respawn_delay_s: float = 1.0
    required: bool = True
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    nice: int = 0
    realtime_priority: int = 0  # 0: normal scheduling; 1..98: SCHED_FIFO (forma_common.scheduling)
    cpus: tuple[int, ...] = ()  # its control loop thread's CPUs (forma_common.scheduling.set_loop_cpus); () = any


@dataclasses.dataclass(frozen=True)
class Deployment:
    name: str
    description: str
    namespace: str
    use_sim_time: bool
    parameter_files: tuple[pathlib.Path, ...]
    env: Mapping[str, str]
    hosts: Mapping[str, tuple[ProcessSpec, ...]]
    source: str

    def processes(self, host: str | None = None) -> tuple[ProcessSpec, ...]:
        """Processes of one host; with host None the deployment must have exactly one host."""
        if host is None:
            if len(self.hosts) != 1:
                raise DeploymentError(
                    self.source,
                    "hosts",
                    f"deployment spans hosts {', '.join(self.hosts)}; choose one with --host",
                )
            host = next(iter(self.hosts))
        if host not in self.hosts:
            raise DeploymentError(self.source, "hosts", f"no host {host!r}; hosts: {', '.join(self.hosts)}")
        return self.hosts[host]


class _Reader:
    """Walks the raw YAML, raising DeploymentError with the path of the bad field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, reason: str):
        raise DeploymentError(self.source, field, reason)

    def mapping(self, value, field: str, allowed: set[str] | None = None, required: set[str] = frozenset()) -> Mapping:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            self.fail(field, f"expected a mapping, got {type(value).__name__}")
        if allowed is not None:
            unknown = sorted(set(map(str, value)) - allowed)
            if unknown:
                self.fail(
                    f"{field}.{unknown[0]}" if field else unknown[0],
                    f"unknown key; valid keys: {', '.join(sorted(allowed))}",
                )
        for key in sorted(required):
            if key not in value:
                self.fail(f"{field}.{key}" if field else key, "missing")
        return value

    def typed(self, value, field: str, kind: type | tuple, what: str):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            self.fail(field, f"expected {what}, got {value!r}")
        return value

    def name(self, value, field: str) -> str:
        self.typed(value, field, str, "a name")
        if not _NAME.match(value):
            self.fail(field, f"{value!r} is not a valid name (letters, digits, '_', starting with a letter)")
        return value

    def namespace(self, value, field: str) -> str:
        self.typed(value, field, str, "a namespace")
        ns = value.rstrip("/")
        if ns and not ns.startswith("/"):
            ns = "/" + ns
        if not _NAMESPACE.match(ns):
            self.fail(field, f"{value!r} is not a valid ROS namespace")
        return ns

    def str_map(self, value, field: str) -> dict[str, str]:
        m = self.mapping(value, field)
        out = {}
        for k, v in m.items():
            if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                self.fail(f"{field}.{k}", f"expected a string, got {v!r}")
            out[str(k)] = str(v)
        return out


def load_deployment(
    path: str | pathlib.Path,
    config_dir: pathlib.Path | None = None,
    node_exists: Callable[[str], bool] | None = None,
    available_nodes: Callable[[], list[str]] | None = None,
) -> Deployment:
    """Read and validate a deployment file.

    config_dir resolves relative parameter files (default: the deployment file's parent's
    parent, i.e. config/); node_exists checks node names against the node registry.
    """
    path = pathlib.Path(path)
    source = path.name
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise DeploymentError(source, "(file)", f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise DeploymentError(source, "(file)", f"not valid YAML: {exc}") from exc
    return parse_deployment(raw, source, config_dir or path.resolve().parent.parent, node_exists, available_nodes)


def parse_deployment(
    raw,
    source: str,
    config_dir: pathlib.Path,
    node_exists: Callable[[str], bool] | None = None,
    available_nodes: Callable[[], list[str]] | None = None,
) -> Deployment:
    r = _Reader(source)
    top = r.mapping(
        raw,
        "",
        {"name", "description", "namespace", "use_sim_time", "parameters", "env", "hosts"},
        required={"name", "hosts"},
    )
    name = r.name(top["name"], "name")
    stem = pathlib.Path(source).stem
    if source.endswith((".yaml", ".yml")) and name != stem:
        r.fail("name", f"{name!r} must match the file name {stem!r}")
    namespace = r.namespace(top.get("namespace", ""), "namespace")
    use_sim_time = r.typed(top.get("use_sim_time", False), "use_sim_time", bool, "true or false")
    files = []
    for i, f in enumerate(r.typed(top.get("parameters", []) or [], "parameters", list, "a list of files")):
        r.typed(f, f"parameters[{i}]", str, "a file path")
        p = pathlib.Path(f) if pathlib.Path(f).is_absolute() else config_dir / f
        if not p.is_file():
            r.fail(f"parameters[{i}]", f"file {p} does not exist")
        try:
            content = yaml.safe_load(p.read_text())
        except yaml.YAMLError as exc:
            r.fail(f"parameters[{i}]", f"{p.name} is not valid YAML: {exc}")
        if not isinstance(content, Mapping) or not all(
            isinstance(v, Mapping) and "ros__parameters" in v for v in content.values()
        ):
            r.fail(f"parameters[{i}]", f"{p.name} must map node names to {{ros__parameters: ...}}")
        files.append(p)
    env = r.str_map(top.get("env"), "env")
    hosts_raw = r.mapping(top["hosts"], "hosts")
    if not hosts_raw:
        r.fail("hosts", "at least one host is needed")
    hosts: dict[str, tuple[ProcessSpec, ...]] = {}
    process_names: set[str] = set()
    node_fqns: set[str] = set()
    for host, host_raw in hosts_raw.items():
        hf = f"hosts.{host}"
        host_map = r.mapping(host_raw, hf, {"processes"}, required={"processes"})
        procs_raw = r.typed(host_map["processes"], f"{hf}.processes", list, "a list of processes")
        if not procs_raw:
            r.fail(f"{hf}.processes", "at least one process is needed")
        procs = []
        for i, proc_raw in enumerate(procs_raw):
            pf = f"{hf}.processes[{i}]"
            pm = r.mapping(
                proc_raw,
                pf,
                {"name", "executor", "respawn", "respawn_delay_s", "required", "nice", "realtime_priority", "env"}
                | {"cpus", "nodes"},
                required={"name", "nodes"},
            )
            pname = r.name(pm["name"], f"{pf}.name")
            if pname in process_names:
                r.fail(f"{pf}.name", f"process name {pname!r} is used twice")
            process_names.add(pname)
            executor = pm.get("executor", "single")
            if executor not in EXECUTORS:
                r.fail(f"{pf}.executor", f"{executor!r}; valid: {', '.join(EXECUTORS)}")
            respawn = r.typed(pm.get("respawn", False), f"{pf}.respawn", bool, "true or false")
            delay = r.typed(pm.get("respawn_delay_s", 1.0), f"{pf}.respawn_delay_s", (int, float), "seconds")
            if not 0.0 <= delay <= 60.0:
                r.fail(f"{pf}.respawn_delay_s", f"{delay} outside 0..60 s")
            required = r.typed(pm.get("required", not respawn), f"{pf}.required", bool, "true or false")
            nice = r.typed(pm.get("nice", 0), f"{pf}.nice", int, "an integer 0..19")
            if not 0 <= nice <= 19:
                r.fail(f"{pf}.nice", f"{nice} outside 0..19 (raising priority needs privileges; lower the others)")
            rt = r.typed(pm.get("realtime_priority", 0), f"{pf}.realtime_priority", int, f"0..{MAX_PRIORITY}")
            if not 0 <= rt <= MAX_PRIORITY:
                r.fail(f"{pf}.realtime_priority", f"{rt} outside 0..{MAX_PRIORITY} (0: normal scheduling)")
            if rt and nice:
                r.fail(f"{pf}.realtime_priority", "a real-time process has no nice value: set one of the two")
            cpus = r.typed(pm.get("cpus", []), f"{pf}.cpus", list, "a list of CPU numbers, e.g. [1]")
            if not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= MAX_CPU for c in cpus):
                r.fail(f"{pf}.cpus", f"{cpus}: CPU numbers 0..{MAX_CPU}, e.g. [1]")
            if len(set(cpus)) != len(cpus):
                r.fail(f"{pf}.cpus", f"{cpus} names a CPU twice")
            nodes_raw = r.typed(pm["nodes"], f"{pf}.nodes", list, "a list of nodes")
            if not nodes_raw:
                r.fail(f"{pf}.nodes", "at least one node is needed")
            nodes = []
            for k, node_raw in enumerate(nodes_raw):
                nf = f"{pf}.nodes[{k}]"
                nm = r.mapping(
                    node_raw, nf, {"node", "name", "namespace", "parameters", "remappings"}, required={"node"}
                )
                node = r.typed(nm["node"], f"{nf}.node", str, "a node name")
                if node_exists is not None and not node_exists(node):
                    avail = ", ".join(available_nodes()) if available_nodes else "see `forma nodes`"
                    r.fail(f"{nf}.node", f"unknown node {node!r}; available: {avail}")
                ros_name = r.name(nm.get("name", node), f"{nf}.name")
                ns = namespace + r.namespace(nm.get("namespace", ""), f"{nf}.namespace")
                fqn = f"{ns}/{ros_name}"
                if fqn in node_fqns:
                    r.fail(f"{nf}.name", f"node {fqn} appears twice; give one a different name or namespace")
                node_fqns.add(fqn)
                params = dict(r.mapping(nm.get("parameters"), f"{nf}.parameters"))
                for key, value in params.items():
                    if value is None or isinstance(value, Mapping):
                        r.fail(f"{nf}.parameters.{key}", "expected a scalar or a list (use dotted names for nesting)")
                remaps = r.str_map(nm.get("remappings"), f"{nf}.remappings")
                nodes.append(NodeSpec(node, ros_name, ns, params, remaps))
            procs.append(
                ProcessSpec(
                    pname,
                    str(host),
                    tuple(nodes),
                    executor,
                    respawn,
                    float(delay),
                    required,
                    {**env, **r.str_map(pm.get("env"), f"{pf}.env")},
                    nice,
                    rt,
                    tuple(cpus),
                )
            )
        hosts[str(host)] = tuple(procs)
    return Deployment(
        name,
        str(top.get("description", "")),
        namespace,
        use_sim_time,
        tuple(files),
        env,
        hosts,
        source,
    )


def with_overrides(deployment: Deployment, overrides: list[str]) -> Deployment:
    """Apply `NODE.PARAM=VALUE` overrides (from `forma launch --param`) to the named nodes.

    VALUE is read as YAML (3 -> int, 0.5 -> float, true -> bool, text -> str); PARAM may be
    dotted (camera.width). Every override must name a node of the deployment.
    """
    parsed: dict[str, dict[str, object]] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        node, dot, param = key.partition(".")
        if not (sep and dot and node and param):
            raise DeploymentError(deployment.source, "--param", f"{item!r}: expected NODE.PARAM=VALUE")
        parsed.setdefault(node, {})[param] = yaml.safe_load(value) if value else ""
    names = {n.name for procs in deployment.hosts.values() for p in procs for n in p.nodes}
    unknown = sorted(set(parsed) - names)
    if unknown:
        raise DeploymentError(
            deployment.source, "--param", f"no node named {unknown[0]!r}; nodes: {', '.join(sorted(names))}"
        )
    hosts = {
        host: tuple(
            dataclasses.replace(
                proc,
                nodes=tuple(
                    dataclasses.replace(n, parameters={**n.parameters, **parsed.get(n.name, {})}) for n in proc.nodes
                ),
            )
            for proc in procs
        )
        for host, procs in deployment.hosts.items()
    }
    return dataclasses.replace(deployment, hosts=hosts)
