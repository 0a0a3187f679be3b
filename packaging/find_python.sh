#!/usr/bin/env bash
# Prints the path of a Python 3.11-3.13 to install Reflexia with, or stops with one line naming
# what to install. Plain `python3` on a Mac without Homebrew's Python is Apple's 3.9, and pip then
# fails half-way; llama-cpp-python compiles, so a Mac also needs the Xcode command-line tools.
# Used by `make run`, `make test` and build_macos.sh. REFLEXIA_PYTHON (or make's PYTHON=...)
# names one to try first.
set -u

system=$(uname -s 2>/dev/null || echo unknown)
found=""
seen=""  # a plain string, not an array: macOS ships bash 3.2
for candidate in ${REFLEXIA_PYTHON:-} python3.13 python3.12 python3.11 python3; do
    path=$(command -v "$candidate" 2>/dev/null) || continue
    version=$("$path" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
    case "$version" in
        3.11 | 3.12 | 3.13) found=$path; break ;;
        *) seen="${seen:+$seen, }$candidate is $version" ;;
    esac
done

if [[ -z "$found" ]]; then
    had=" (found ${seen:-none})"
    if [[ "$system" == "Darwin" ]]; then
        how="install one: 'brew install python@3.12', or the installer from python.org"
    else
        how="install one with your package manager, e.g. 'sudo apt-get install python3.11 python3.11-venv'"
    fi
    echo "Reflexia needs Python 3.11, 3.12 or 3.13$had: $how, then run make again." >&2
    exit 1
fi

if [[ "$system" == "Darwin" ]] && ! xcode-select -p >/dev/null 2>&1; then
    echo "Reflexia compiles llama.cpp and needs Apple's command-line tools: run 'xcode-select --install', then run make again." >&2
    exit 1
fi

echo "$found"
