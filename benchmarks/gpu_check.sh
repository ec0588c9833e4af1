#!/usr/bin/env bash
# The GPU checks of the project in one command, for a GPU server that has Python with numpy, scipy,
# cupy, h5py, matplotlib, pytest and pytest-benchmark but perhaps not this project's other
# dependencies (an offline server: fill .whl/ first with `pip download` of the pure-Python wheels
# of hydra-core, omegaconf, antlr4-python3-runtime, pyyaml and tqdm, and this script installs them
# into /tmp/site).
#
#   usage (from the project root): bash benchmarks/gpu_check.sh [OUT_DIR]    (default: $OUT, else gpu-check/)
#
# It writes at most nine files into OUT_DIR, each step under its own time limit so that one hang
# cannot eat the others' time (about 9 minutes in all):
#   device.txt               the GPU, driver, CuPy and CUDA versions
#   cuda_profile.txt, .json  each fused CUDA kernel's time and bandwidth, 8 members of 256³
#   parity.txt               every backend-parametrised test on CuPy (physics, parity with NumPy,
#                            the CUDA kernels against their host build to the bit)
#   bench.txt, bench.json    the pytest-benchmark suite on CuPy: transport step 64³/128³/256³,
#                            64-member ensemble, mass-consistent wind solve
#   transport_step_gpu.json  bench.json summarised (commit it under benchmarks/results/)
#   peers.txt, peers_gpu.json  the 256³ peer problem: CuPy against NumPy, bandwidth roofline
# Exit status: 0 when every step ran and passed, 1 otherwise (the files say which).
set -uo pipefail
out=${1:-${OUT:-gpu-check}}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! $py -c "import hydra" 2>/dev/null && compgen -G ".whl/*.whl" >/dev/null; then
    $py -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
status=0
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "nvidia-smi: not found"
    $py -c "import cupy, platform; d = cupy.cuda.Device(); p = cupy.cuda.runtime.getDeviceProperties(d.id); \
print('cupy', cupy.__version__, 'cuda runtime', cupy.cuda.runtime.runtimeGetVersion(), 'device', p['name'].decode(), \
'python', platform.python_version())" 2>&1 || echo "CuPy cannot use a device here: every CuPy check below skips"
} > "$out/device.txt"
$py -c "import cupy; cupy.cuda.runtime.getDeviceCount()" 2>/dev/null || status=1
cat "$out/device.txt"

timeout 60 $py -m hpc.cuda_profile --n 256 --members 8 --steps 20 --json "$out/cuda_profile.json" \
    > "$out/cuda_profile.txt" 2>&1 || status=1
cat "$out/cuda_profile.txt"

timeout 200 $py -m pytest -q -p no:cacheprovider --continue-on-collection-errors -k cupy -rs tests \
    --ignore=tests/benchmarks > "$out/parity.txt" 2>&1 || status=1
tail -3 "$out/parity.txt"

timeout 150 $py -m pytest -q -p no:cacheprovider tests/benchmarks -k cupy --benchmark-only \
    --benchmark-columns=min,median,max,rounds --benchmark-json="$out/bench.json" > "$out/bench.txt" 2>&1 || status=1
tail -3 "$out/bench.txt"
if [ -s "$out/bench.json" ]; then
    $py benchmarks/summarize.py "$out/bench.json" "$out/transport_step_gpu.json" >> "$out/bench.txt" 2>&1 || status=1
fi

timeout 130 $py -m hpc.peer_benchmark --n 256 --steps 30 --skip-devito --json "$out/peers_gpu.json" \
    > "$out/peers.txt" 2>&1 || status=1
tail -6 "$out/peers.txt"
exit $status
