#!/usr/bin/env bash
# One command for a maintainer with a Mac, before every release: build Reflexia.app, launch it,
# and print what only a Mac can show, then quit it. Nobody on the project has a Mac, so these are
# the facts to read (and paste into the release's issue) when something looks wrong.
#   packaging/macos_check.sh             build (./build_macos.sh), then check
#   packaging/macos_check.sh --no-build  check the dist/Reflexia.app already built
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

if [[ "$(uname -s)" != "Darwin" ]]; then
    echo "macos_check.sh checks Reflexia.app on a Mac; on $(uname -s) use 'make test-bundle'." >&2
    exit 1
fi
if [[ "${1:-}" != "--no-build" ]]; then
    ./build_macos.sh || exit 1
fi
app="${REFLEXIA_APP:-dist/Reflexia.app}"  # another copy to check, if named
binary="$app/Contents/MacOS/Reflexia"
[[ -x "$binary" ]] || { echo "no $binary: run without --no-build" >&2; exit 1; }
home=$(mktemp -d "${TMPDIR:-/tmp}/reflexia-check.XXXXXX")
failed=0

say() { printf '\n== %s\n' "$1"; }
# Lines of a log that match, or one line saying what is missing (and the check fails).
show() {
    local what=$1 pattern=$2 file=$3
    if grep -m "${4:-3}" -E "$pattern" "$file"; then
        return 0
    fi
    echo "MISSING: $what (no line matching '$pattern' in $file)"
    failed=1
}

say "self-test: a tiny model answers on Metal, a document is indexed and found"
"$binary" --self-test --verbose >"$home/self-test.out" 2>"$home/self-test.log"
tail -1 "$home/self-test.out"
show "Metal in use" "ggml_metal|Metal|MTL" "$home/self-test.log" 4
show "layers offloaded to the GPU" "offloaded [0-9]+/[0-9]+ layers" "$home/self-test.log"

say "launch: window, focus, status item, global shortcut"
REFLEXIA_HOME="$home/app" "$binary" --verbose >/dev/null 2>"$home/launch.log" &
pid=$!
for _ in $(seq 60); do
    grep -q "window has the focus" "$home/launch.log" 2>/dev/null && break
    sleep 1
done
show "the window" "window shown in" "$home/launch.log"
show "focus on the window" "window has the focus: yes" "$home/launch.log"
show "the status item" "status item shown in the menubar" "$home/launch.log"
show "the global shortcut" "global shortcut .* registered" "$home/launch.log"
grep -E "no global shortcut|registering the global shortcut" "$home/launch.log" | head -3
kill -TERM "$pid" 2>/dev/null
wait "$pid"
code=$?
echo "quit on SIGTERM: exit $code"
[[ $code -eq 0 ]] || failed=1

say "memory: Reflexia's reading, then the system's own"
REFLEXIA_HOME="$home/app" "$binary" doctor 2>/dev/null | grep -iE "memory|llama" || failed=1
memory_pressure | tail -1
sysctl hw.memsize kern.memorystatus_vm_pressure_level kern.memorystatus_level
sysctl iogpu.wired_limit_mb 2>/dev/null || true
vm_stat | grep -E "page size|Pages free|Pages purgeable|Pages wired|File-backed|Anonymous|occupied by compressor"

say "result"
echo "logs in $home"
if [[ $failed -ne 0 ]]; then
    echo "some checks failed: see MISSING lines above"
    exit 1
fi
echo "all checks passed"
