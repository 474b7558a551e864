"""The ROS shell of the node kit: parameters declared from a params dataclass (forma_common.params)
with full descriptors, `run_node()` for every node's `main()`, `on_robot_clock()` for the nodes
that keep the robot's time, and `GoalResult`, the result of an action goal handed over by a
control loop."""

from __future__ import annotations

import sys

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rcl_interfaces.srv import SetParameters, SetParametersAtomically
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.task import Future

from forma_common.dds import use_forma_dds_profile
from forma_common.params import Declared, ParameterError, check, declared, refusal

_BIG_FLOAT = sys.float_info.max
_BIG_INT = 2**63 - 1


def descriptor(d: Declared) -> ParameterDescriptor:
    """The ROS descriptor of one parameter: description with unit and range, the range itself,
    the choices, read-only (a read-only parameter refuses `ros2 param set` with the reason)."""
    out = ParameterDescriptor(description=d.spec.text(), read_only=d.spec.read_only)
    s = d.spec
    number = d.item_kind if d.kind is list else d.kind
    if s.low is not None or s.high is not None:
        if number is float:
            low = -_BIG_FLOAT if s.low is None else float(s.low)
            high = _BIG_FLOAT if s.high is None else float(s.high)
            out.floating_point_range = [FloatingPointRange(from_value=low, to_value=high, step=0.0)]
        elif number is int:
            low = -_BIG_INT if s.low is None else int(s.low)
            high = _BIG_INT if s.high is None else int(s.high)
            out.integer_range = [IntegerRange(from_value=low, to_value=high, step=1)]
    if s.choices:
        out.additional_constraints = f"one of: {', '.join(map(str, s.choices))}"
    return out


def declare_params(node: Node, cls, prefix: str = "", error: type[Exception] = ParameterError):
    """Declare every parameter of the params dataclass `cls` on `node` (names prefixed), read
    them, and return the validated instance; a bad one raises `error` (the node's own
    configuration error) with a message naming it."""
    try:
        return _declare(node, cls, prefix)
    except ParameterError as exc:
        raise error(str(exc)) from None


def _declare(node: Node, cls, prefix: str):
    values = {}
    for d in declared(cls):
        name = prefix + d.name
        override = node._parameter_overrides.get(name)  # rclpy's own store of --ros-args / params-file values
        if d.kind is float and override is not None and type(override.value) is int:
            # `--param sim.camera.rate_hz=0` or `rate_hz: 100` in a YAML file: a whole number is a number
            node._parameter_overrides[name] = Parameter(name, value=float(override.value))
        try:
            node.declare_parameter(name, d.default, descriptor(d))
        except InvalidParameterTypeException as exc:
            raise ParameterError(f"parameter {name}: a {d.kind.__name__} is needed ({exc})") from None
        except InvalidParameterValueException:  # rclpy checked the descriptor's range first
            given = node._parameter_overrides.get(name)
            value = given.value if given is not None else d.default
            items = value if isinstance(value, (list, tuple)) else [value]
            why = next((w for v in items if (w := refusal(d.spec, v))), f": {d.spec.text()}")
            raise ParameterError(f"parameter {name}={value!r}{why}") from None
        values[d.name] = node.get_parameter(name).value
        if d.kind is list:
            values[d.name] = list(values[d.name])
    config = cls(**values)
    check(config)
    return config


def on_robot_clock(node: Node) -> None:
    """For a node whose clock is the robot's: the stamps of the state it reads (sim time in
    simulation, the hardware's clock on the robot), as the whole-body controller, the supervisor
    and the hands keep it. use_sim_time would change nothing in what it does and only add rclpy's
    /clock subscription: an executor wake-up per /clock message (100 Hz, ~0.04 core here). Its
    own slow timers (status, diagnostics) then run on wall time."""
    if node.get_parameter("use_sim_time").value:
        node.set_parameters([Parameter("use_sim_time", value=False)])


def refuse_malformed_parameter_requests(node: Node) -> None:
    """Make the node's set_parameters and set_parameters_atomically services refuse a parameter
    they cannot read, with the reason, instead of raising out of the executor.

    rclpy's parameter service converts each request with Parameter.from_parameter_msg, which
    raises on a type code outside rcl_interfaces/ParameterType (`ValueError: 255 is not a valid
    Parameter.Type`): one such request to any node stopped its whole process (found by fuzzing,
    tests/system/test_fuzz_sim.py; the console exited with 1). Parameters it can read are applied
    as rclpy would; set_parameters_atomically refuses the whole request when one is unreadable."""
    for service in node.services:
        if service.srv_type is SetParameters:
            service.callback = _each_readable(service.callback)
        elif service.srv_type is SetParametersAtomically:
            service.callback = _all_readable(service.callback)


def _unreadable(msg) -> str:
    """Why rclpy cannot turn a rcl_interfaces/Parameter into a Parameter ("" when it can)."""
    try:
        Parameter.from_parameter_msg(msg)
    except (ValueError, TypeError) as exc:
        return f"parameter {msg.name!r} refused: {exc} (types are rcl_interfaces/ParameterType's 0..9)"
    return ""


def _each_readable(set_parameters):
    def callback(request, response):
        problems = [_unreadable(p) for p in request.parameters]
        if not any(problems):
            return set_parameters(request, response)
        for p, problem in zip(request.parameters, problems, strict=True):
            if problem:
                response.results.append(SetParametersResult(successful=False, reason=problem))
            else:  # one at a time, as rclpy does
                one = set_parameters(SetParameters.Request(parameters=[p]), SetParameters.Response())
                response.results.extend(one.results)
        return response

    return callback


def _all_readable(set_parameters_atomically):
    def callback(request, response):
        problems = [problem for p in request.parameters if (problem := _unreadable(p))]
        if not problems:
            return set_parameters_atomically(request, response)
        response.result = SetParametersResult(successful=False, reason="; ".join(problems[:3]))
        return response

    return callback


def run_node(node_class, errors: tuple[type[Exception], ...] = (ParameterError,), args=None) -> None:
    """`main()` of a node run alone (`ros2 run <package> <node>`): init, spin, and on a
    configuration error (one of `errors`) a fatal log line with the reason and exit status 1."""
    use_forma_dds_profile()
    rclpy.init(args=args)
    node = None
    try:
        node = node_class()
        refuse_malformed_parameter_requests(node)
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except errors as exc:
        name = getattr(node_class, "DEFAULT_NAME", node_class.__name__)
        rclpy.logging.get_logger(name).fatal(str(exc))
        raise SystemExit(1) from None
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


class GoalResult:
    """The result of an action goal, produced by a control loop (a timer or a thread of its own)
    and awaited by the goal's execute coroutine: `result = await goal_result`. `finish()` also
    wakes the node's executor, so the result goes out at once even when nothing else wakes it."""

    def __init__(self, wake) -> None:
        self.future = Future()
        self._wake = wake  # a guard condition of the node: GoalResult.waker(node)

    @staticmethod
    def waker(node: Node):
        """One guard condition per node, shared by its goals."""
        return node.create_guard_condition(lambda: None)

    def finish(self, result) -> None:
        if not self.future.done():
            self.future.set_result(result)
            self._wake.trigger()

    def done(self) -> bool:
        return self.future.done()

    def __await__(self):
        return self.future.__await__()
