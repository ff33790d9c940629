#!/usr/bin/env bash
# The smoke runner on a GPU host (run by hand on a machine with an NVIDIA GPU, JAX with CUDA and the
# runtime dependencies on PYTHONPATH): with the default `smoke.platform = "cpu"` the runner must take no
# GPU memory; with `platform = "cuda"` it must run on the GPU without preallocating most of its memory.
# Peak GPU memory is polled with nvidia-smi every 100 ms; results go to $OUT (default /tmp/gpu-check).
set -u
OUT=${OUT:-/tmp/gpu-check}
PY=${PYTHON:-python3}
MODEL=examples/eight_schools_centered.py
mkdir -p "$OUT"
poll() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$1" & POLL=$!; }
peak() { kill "$POLL"; wait "$POLL" 2>/dev/null; sort -n "$1" | tail -1; }

nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv
"$PY" -c "import jax, numpyro; print('jax', jax.__version__, 'numpyro', numpyro.__version__, jax.devices())"
idle=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits)

for platform in cpu cuda; do
    project=$(mktemp -d)
    cp "$MODEL" "$project/"
    printf '[tool.numpyro-lint.smoke]\nplatform = "%s"\n' "$platform" > "$project/pyproject.toml"
    poll "$OUT/gpu-memory-$platform.txt"
    start=$(date +%s.%N)
    "$PY" -m numpyro_lint smoke --no-progress --output-format json "$project/$(basename "$MODEL")" \
        > "$OUT/smoke-$platform.json" 2> "$OUT/smoke-$platform.err"
    status=$?
    end=$(date +%s.%N)
    echo "platform=$platform exit=$status seconds=$("$PY" -c "print(round($end - $start, 1))")" \
         "gpu_mib_idle=$idle gpu_mib_peak=$(peak "$OUT/gpu-memory-$platform.txt")"
    "$PY" -c "import json,sys; print(sorted({d['code'] for f in json.load(open(sys.argv[1])) for d in f.get('diagnostics', [f])}))" \
        "$OUT/smoke-$platform.json" 2>/dev/null || head -c 2000 "$OUT/smoke-$platform.json"
    tail -5 "$OUT/smoke-$platform.err"
done
