"""Control of the body, one subpackage per node: wbc/ (whole-body control), safety/ (the safety
supervisor), stand/ (the joint-PD stand). Each keeps its algorithms in pure modules, its message
conversions in io.py (where it has any), its ROS node in node.py and its in-process harness
adapter in lockstep.py (DESIGN §2)."""
