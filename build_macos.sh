#!/usr/bin/env bash
# Build Reflexia.app on macOS (Apple Silicon: llama.cpp with Metal), then smoke-test it.
# Usage: ./build_macos.sh        -> dist/Reflexia.app
set -euo pipefail
cd "$(dirname "$0")"

if [[ "$(uname -s)" != "Darwin" ]]; then
    echo "build_macos.sh builds the macOS app bundle; on $(uname -s) use 'make run'." >&2
    exit 1
fi

python3 -m venv .venv
# llama-cpp-python compiles with Metal on Apple Silicon by default; say so explicitly.
CMAKE_ARGS="-DGGML_METAL=on" .venv/bin/python -m pip install --upgrade pip
CMAKE_ARGS="-DGGML_METAL=on" .venv/bin/python -m pip install -e '.[dev]'

rm -rf build dist
.venv/bin/pyinstaller --noconfirm packaging/reflexia.spec

# Smoke test of the frozen app: the CLI inside the bundle must import llama.cpp and read a GGUF.
app_binary="dist/Reflexia.app/Contents/MacOS/Reflexia"
"$app_binary" --version
tmp_model="$(mktemp -d)/smoke.gguf"
"$app_binary" dev make-model "$tmp_model" --size tiny
"$app_binary" chat --model "$tmp_model" --prompt "hello" --max-tokens 8 --json
echo "built dist/Reflexia.app"
