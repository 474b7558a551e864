#!/usr/bin/env bash
# Set up everything Forma needs on a fresh Debian 12 / Python 3.11 machine, idempotently:
#   1. Debian packages (urdfdom tools, EGL/OSMesa for offscreen rendering, a compiler, cmake, espeak-ng)
#   2. a venv (.venv, or $FORMA_VENV) with the pinned ros-jazzy-* wheels and Python deps
#   3. the one patch the ROS wheels need (build-machine paths in their cmake exports)
#   4. forma_interfaces built with cmake and installed into the venv
#   5. every ament_python package under src/ installed into the venv
# Each step keeps a stamp (a hash of its inputs) under .venv/.forma-stamps and is skipped when
# nothing changed, so a second run costs a second or two. Called by `make setup`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${FORMA_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
STAMPS=$VENV/.forma-stamps
BUILD=$ROOT/build

APT_PACKAGES=(
  liburdfdom-tools                    # check_urdf, used by the description tests
  libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6  # MuJoCo offscreen rendering (EGL, OSMesa)
  cmake g++ make                      # building forma_interfaces
  python3-venv python3-dev            # venv and headers when python3 is Debian's own
  procps                              # pgrep/ps for the shutdown checks
  libespeak-ng1 espeak-ng-data        # the interaction node's speech (espeak-ng through its C library)
  chromium                            # the browser-console test drives Debian's headless Chromium
  alsa-utils                          # aplay: speech out of the robot's speaker
  openssl                             # the DDS-Security test verifies signed permissions as a plugin would
)

# The real ros2_control (test infrastructure, not a dependency of the stack): where CI and the
# developers' machines keep it; its tests say so and are skipped where it is not.
ROS2_CONTROL_TARBALL=${FORMA_ROS2_CONTROL_TARBALL:-$(dirname "$ROOT")/shared/ros2_control/ros2_control-jazzy-cp311-debian12-x86_64.tar.gz}
if [ -f "$ROS2_CONTROL_TARBALL" ]; then
  APT_PACKAGES+=(liburdfdom-model3.0 liburdfdom-world3.0 liburdfdom-sensor3.0 liburdfdom-model-state3.0
                 libtinyxml2-9 libtinyxml2.6.2v5 liborocos-kdl1.5 libfmt9 libdw1 libelf1 libconsole-bridge1.0)
fi

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }

hash_of() {  # hash_of PATH... -> one sha256 over the files' names and contents
  find -L "$@" -type f \
    -not -path '*/__pycache__/*' -not -path '*.egg-info/*' -not -path '*/build/*' \
    -not -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64
}

stamp_is() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s' "$2" > "$STAMPS/$1"; }

# --- 1. Debian packages ---------------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  [[ "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. venv and Python dependencies --------------------------------------------------------
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "Forma needs Python 3.11 (the ros-jazzy-* wheels are cp311); $PYTHON is $("$PYTHON" --version 2>&1)." >&2
  echo "Set PYTHON=/path/to/python3.11 and run again." >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating venv $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
# The ROS wheels' bootstrapper re-executes Python with LD_LIBRARY_PATH set; AMENT_PREFIX_PATH
# lets ament_index find the packages installed into the venv.
export AMENT_PREFIX_PATH=$VENV CMAKE_PREFIX_PATH=$VENV

deps_hash=$(hash_of "$ROOT/requirements")
if ! stamp_is deps "$deps_hash"; then
  say "installing Python dependencies (pinned in requirements/constraints.txt)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -r "$ROOT/requirements/requirements.txt" -c "$ROOT/requirements/constraints.txt"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
    -r "$ROOT/requirements/torch.txt" -c "$ROOT/requirements/constraints.txt"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$ROOT/requirements/no-deps.txt"
  # --- 3. the wheel cmake-path patch ------------------------------------------------------
  # The *_rosidl_generator_pyExport.cmake files name the wheel build machine's Python and numpy
  # include dirs; point them at this venv's so interface packages can be built against it.
  "$VENV/bin/python" - "$VENV" <<'PY'
import pathlib, re, sys, sysconfig
import numpy
venv = pathlib.Path(sys.argv[1])
py_inc, np_inc = sysconfig.get_paths()["include"], numpy.get_include()
n = 0
for f in (venv / "share").glob("*/cmake/*rosidl_generator_pyExport.cmake"):
    text = f.read_text()
    new = re.sub(r"/opt/python/[^;\"]*/include/python3\.11", py_inc, text)
    new = re.sub(r"/opt/python/[^;\"]*/numpy/_core/include", np_inc, new)
    if new != text:
        f.write_text(new)
        n += 1
print(f"[bootstrap] patched {n} cmake export files for {py_inc}")
PY
  stamp_set deps "$deps_hash"
fi

# --- 4. forma_interfaces ---------------------------------------------------------------------
# Rebuilt when its sources or the pinned ROS wheels (what it is built against) change.
if_hash=$( (hash_of "$ROOT/src/forma_interfaces"; grep '^ros-' "$ROOT/requirements/constraints.txt") | sha256sum | cut -c1-64)
if ! stamp_is interfaces "$if_hash"; then
  say "building forma_interfaces into the venv"
  rm -rf "$BUILD/forma_interfaces"; mkdir -p "$BUILD"
  (
    export PATH="$VENV/bin:$PATH"
    cmake -S "$ROOT/src/forma_interfaces" -B "$BUILD/forma_interfaces" -Wno-dev \
      -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$VENV/bin/python3" \
      -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release >"$BUILD/forma_interfaces.log" 2>&1 &&
    cmake --build "$BUILD/forma_interfaces" -j "$(nproc)" >>"$BUILD/forma_interfaces.log" 2>&1 &&
    cmake --install "$BUILD/forma_interfaces" >>"$BUILD/forma_interfaces.log" 2>&1
  ) || { echo "forma_interfaces build failed; see $BUILD/forma_interfaces.log" >&2; tail -30 "$BUILD/forma_interfaces.log" >&2; exit 1; }
  stamp_set interfaces "$if_hash"
fi

# --- 5. ament_python packages under src/ -------------------------------------------------------
shopt -s nullglob
for setup in "$ROOT"/src/*/setup.py; do
  pkg_dir=$(dirname "$setup")
  pkg=$(basename "$pkg_dir")
  pkg_hash=$(hash_of "$pkg_dir")
  if ! stamp_is "pkg-$pkg" "$pkg_hash"; then
    say "installing $pkg"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
      --no-build-isolation "$pkg_dir" >/dev/null
    rm -rf "$pkg_dir/build" "$pkg_dir"/*.egg-info
    stamp_set "pkg-$pkg" "$pkg_hash"
  fi
done
# --- 6. the real ros2_control, when it is here (tests/integration/test_ros2_control.py) ------------
if [ -f "$ROS2_CONTROL_TARBALL" ]; then
  rc_id=$(stat -c '%s %Y' "$ROS2_CONTROL_TARBALL")
  if ! stamp_is ros2_control "$rc_id" || [ ! -x "$BUILD/ros2_control/install/lib/controller_manager/ros2_control_node" ]; then
    say "extracting the real ros2_control into build/ros2_control"
    rm -rf "$BUILD/ros2_control" && mkdir -p "$BUILD/ros2_control"
    tar -xzf "$ROS2_CONTROL_TARBALL" -C "$BUILD/ros2_control"
    stamp_set ros2_control "$rc_id"
  fi
fi
say "ready: $VENV"
