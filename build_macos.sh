#!/usr/bin/env bash
# Build dist/Reflexia.app on macOS (Apple Silicon: llama.cpp with Metal), sign it ad hoc,
# self-test it, and optionally wrap it in a .dmg.
# Usage: ./build_macos.sh [--dmg]
# Facts behind each step: ../shared/MACOS.md (sections 5 and 6).
set -euo pipefail
cd "$(dirname "$0")"

if [[ "$(uname -s)" != "Darwin" ]]; then
    echo "build_macos.sh builds the macOS app bundle; on $(uname -s) use 'make test-bundle'." >&2
    exit 1
fi

# A Python 3.11-3.13 (plain python3 may be Apple's 3.9) and the Xcode command-line tools, or one
# line naming what to install.
python=$(bash packaging/find_python.sh) || exit 1
if ! .venv/bin/python -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; then
    rm -rf .venv  # none yet, or one made with another Python (Apple's 3.9) that pip cannot finish
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# llama-cpp-python compiles with Metal on Apple Silicon; the shaders are embedded in libggml-metal.
CMAKE_ARGS="-DGGML_METAL=on" .venv/bin/python -m pip install --quiet -e '.[dev]'
# What we hand to others runs on every Apple Silicon Mac: llama.cpp's CPU code is built for the
# baseline (GGML_NATIVE=off), not for this Mac's chip, whose newer instructions an M1 lacks. pip
# would reuse a wheel built natively by `make run`, so this one is built afresh.
CMAKE_ARGS="-DGGML_METAL=on -DGGML_NATIVE=off" .venv/bin/python -m pip install --quiet \
    --no-cache-dir --force-reinstall --no-deps "llama-cpp-python==$(.venv/bin/python -c \
    'import importlib.metadata as m; print(m.version("llama-cpp-python"))')"

# The app icon: every size macOS asks for, from the one source image in resources/.
rm -rf build dist
iconset="build/Reflexia.iconset"
mkdir -p "$iconset"
for size in 16 32 128 256 512; do
    sips -z "$size" "$size" resources/icon.png --out "$iconset/icon_${size}x${size}.png" >/dev/null
    double=$((size * 2))
    sips -z "$double" "$double" resources/icon.png --out "$iconset/icon_${size}x${size}@2x.png" >/dev/null
done
iconutil -c icns "$iconset" -o build/Reflexia.icns

.venv/bin/pyinstaller --noconfirm packaging/reflexia.spec
app="dist/Reflexia.app"

# Ad-hoc signature, inside out (Apple advises against --deep for signing): every library and
# executable first, then the bundle. arm64 code must be signed; ad hoc is enough to run.
find "$app/Contents" -type f \( -name "*.dylib" -o -name "*.so" -o -perm -111 \) -print0 |
    xargs -0 codesign --force --sign - --timestamp=none
codesign --force --sign - --timestamp=none "$app"
codesign --verify --deep --strict "$app"

# The frozen app proves itself: a tiny model answers, a document is indexed and found.
"$app/Contents/MacOS/Reflexia" --version
.venv/bin/python packaging/check_bundle.py "$app/Contents/MacOS/Reflexia"

if [[ "${1:-}" == "--dmg" ]]; then
    hdiutil create -volname Reflexia -srcfolder "$app" -ov -format UDZO dist/Reflexia.dmg
    echo "built dist/Reflexia.dmg"
fi
# A copy built here carries no quarantine flag and opens at once. One downloaded by others (the
# .dmg) does: ad-hoc signed, it opens after System Settings > Privacy & Security > Open Anyway.
echo "built $app (ad-hoc signed; opens directly on this Mac)"
