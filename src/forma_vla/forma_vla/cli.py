"""`forma vla ...`: the policy's data and training from the command line.

forma vla collect --seeds 0-299 --out build/vla/demos     demonstrations from the task expert
forma vla train --data build/vla/demos --out build/vla/model   behaviour cloning on the CPU
forma vla eval --model build/vla/model/policy.onnx --seeds 5000-5019   judged from simulator truth
"""

from __future__ import annotations


def add_commands(sub) -> None:
    """Add `vla` and its subcommands to the `forma` command's subparsers."""
    from forma_vla import collect, evaluate, train

    vla = sub.add_parser("vla", help="VLA policy: collect demonstrations, train, evaluate")
    commands = vla.add_subparsers(dest="vla_command", required=True)
    p = commands.add_parser("collect", help="run the task expert on the lockstep harness and record a LeRobot dataset")
    collect.add_arguments(p)
    p.set_defaults(func=collect.main_collect)
    p = commands.add_parser("train", help="train the project's policy network on a dataset (CPU)")
    train.add_arguments(p)
    p.set_defaults(func=train.main_train)
    p = commands.add_parser("eval", help="a policy, the task expert and an untrained network on held-out seeds")
    evaluate.add_arguments(p)
    p.set_defaults(func=evaluate.main_eval)
