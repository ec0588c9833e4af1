# plumetwin — set-up and everyday commands. Every target creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= dev,numba,viz

.PHONY: run test test-all bench bench-ensemble bench-peers clean venv offscreen-gl chromium validate-prairie

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	@$(MAKE) --no-print-directory offscreen-gl
	@$(MAKE) --no-print-directory chromium
	touch $(STAMP)

## offscreen-gl: the off-screen OpenGL library VTK needs for 3D renders (installed with apt when missing)
offscreen-gl:
	@if ldconfig -p | grep -q -E 'libOSMesa\.so\.8|libEGL_mesa\.so\.0'; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libosmesa6 >/dev/null) \
		|| echo "note: could not install libosmesa6; 3D renders will be skipped"; \
	else echo "note: no off-screen OpenGL library (install libosmesa6); 3D renders will be skipped"; fi

## chromium: headless Chromium, which the tests use to render the validation report (apt, when missing and root)
chromium:
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "note: could not install chromium; the report rendering test will be skipped"; \
	else echo "note: no chromium (install it); the report rendering test will be skipped"; fi

## run: install, run the default scenario end to end and print where the results are
run: $(STAMP)
	$(BIN)/plumetwin run $(ARGS)

## test: install and run the test suite (slow cases and benchmarks excluded)
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

## test-all: the whole suite, slow physics checks included
test-all: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## bench: the pytest-benchmark suite (transport step throughput)
BENCH_LABEL ?= cpu
bench: $(STAMP)
	mkdir -p .benchmarks
	$(BIN)/python -m pytest -q tests/benchmarks --benchmark-only --benchmark-columns=min,median,max,rounds \
		--benchmark-json=.benchmarks/latest.json $(PYTEST_ARGS)
	$(BIN)/python benchmarks/summarize.py .benchmarks/latest.json benchmarks/results/transport_step_$(BENCH_LABEL).json

## bench-ensemble: member-steps per second of a 64-member ensemble on 128x128x32 per backend
bench-ensemble: $(STAMP)
	mkdir -p .benchmarks
	$(BIN)/python -m pytest -q tests/benchmarks/test_ensemble_throughput.py --benchmark-only --benchmark-columns=min,median,max,rounds \
		--benchmark-json=.benchmarks/ensemble.json $(PYTEST_ARGS)
	$(BIN)/python benchmarks/summarize.py .benchmarks/ensemble.json benchmarks/results/ensemble_$(BENCH_LABEL).json
	$(BIN)/python -c "import json, sys; p = sys.argv[1]; d = json.load(open(p)); \
		d['what'] = 'ensemble: member-steps per second, 64 members advanced together on 128x128x32'; \
		open(p, 'w').write(json.dumps(d, indent=2) + '\n')" benchmarks/results/ensemble_$(BENCH_LABEL).json

## bench-peers: the same 256³ problem on every plumetwin backend and on Devito, against the measured roofline
PEERS_ARGS ?= --n 256 --steps 100 --rounds 3
bench-peers: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS),peers]"
	mkdir -p benchmarks/results
	$(BIN)/python -m hpc.peer_benchmark $(PEERS_ARGS) --json benchmarks/results/peers_$(BENCH_LABEL).json

## validate-prairie: simulate every usable Prairie Grass run with the engine (medium grids, plus the fine
## ones for the convergence check) and write scores.json, summary.md and the PNGs to validation/results/prairie_grass/
PRAIRIE_ARGS ?= --runs all --resolution medium --convergence
validate-prairie: $(STAMP)
	$(BIN)/python -m validation.prairie_grass $(PRAIRIE_ARGS) --out validation/results/prairie_grass

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
