"""Write requirements/constraints.txt: the exact versions of every wheel in the venv.

Only distributions installed from wheels (`.dist-info`) are pinned; the `*.egg-info` entries
that the ros-* wheels carry inside them (action_msgs, std_msgs, ...) are not PyPI projects.
Run through `make lock` after changing requirements/requirements.txt.
"""

from __future__ import annotations

import importlib.metadata
import pathlib
import sys

HEADER = """\
# Full pin set of the pip install, written by `make lock` (tools/lock.py) from a venv built
# from requirements.txt. Installed as constraints: only what requirements.txt asks for lands.
"""


def main() -> int:
    pins = {}
    for dist in importlib.metadata.distributions():
        path = getattr(dist, "_path", None)
        name = dist.metadata["Name"]
        if path is None or not str(path).endswith(".dist-info") or name.lower() == "pip":
            continue
        pins[name.lower()] = f"{name}=={dist.version}"
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "requirements/constraints.txt")
    out.write_text(HEADER + "".join(f"{pins[k]}\n" for k in sorted(pins)))
    print(f"wrote {len(pins)} pins to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
