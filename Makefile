# Forma: every entry point sets itself up first (tools/bootstrap.sh is idempotent and quick when
# nothing changed). See README.md.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
DEPLOYMENT ?= sim
export FORMA_VENV := $(VENV)
# The pip install keeps every ROS package inside the venv; nothing needs sourcing.
export AMENT_PREFIX_PATH := $(VENV)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup run test accept bench soak results lint lock clean

setup:
	@tools/bootstrap.sh

run: setup  ## bring up the default deployment (MuJoCo sim + stand + browser view)
	@$(VENV)/bin/forma launch $(DEPLOYMENT)

test: setup  ## CI tier: unit, contract and integration tests over real DDS, smoke trials
	@$(PY) -m pytest -q tests

accept: setup  ## statistical acceptance trials on the lockstep harness -> build/accept.json
	@$(PY) -m tests.accept.run_accept

bench: setup  ## speed and cost figures beside same-run baselines -> build/bench.json (BENCH="bench_stack ..." for some)
	@$(PY) -m tests.bench.run_bench $(BENCH)

soak: setup  ## `make run` left standing: 5 starts x 10 min, console open, IMU watched -> build/soak.json (SOAK="--runs 1 --minutes 2")
	@$(PY) -m tests.bench.soak $(SOAK)

results: setup  ## docs/RESULTS.md from build/accept.json and build/bench.json (run make accept and make bench first)
	@$(PY) -m tests.results

lint: setup
	@$(VENV)/bin/ruff check src tests tools launch

lock:  ## re-pin requirements/constraints.txt from a fresh venv built from requirements.txt and torch.txt
	rm -rf build/lock-venv && python3 -m venv build/lock-venv
	build/lock-venv/bin/pip install -q --upgrade pip
	build/lock-venv/bin/pip install -q -r requirements/requirements.txt
	build/lock-venv/bin/pip install -q --no-deps -r requirements/torch.txt
	build/lock-venv/bin/python tools/lock.py requirements/constraints.txt
	rm -rf build/lock-venv

clean:
	rm -rf build $(VENV)
