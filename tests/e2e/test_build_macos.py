"""build_macos.sh, run here against stand-ins for the Mac's tools: what it builds, and when it stops.

Each stand-in records how it was called. The real script needs a Mac; what is checked here is the
script's own logic: a Python 3.11-3.13 or one line, the llama.cpp it ships built for every Apple
Silicon chip (not only the building one), and the last line about opening the app.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_PYTHON = r"""#!/bin/bash
echo "python $* CMAKE_ARGS=${CMAKE_ARGS:-}" >> "$CALLS"
case "$*" in
  "-c import sys; print(\"%d.%d\" % sys.version_info[:2])") echo "${VERSION:-3.12}" ;;
  "-m venv .venv") mkdir -p .venv/bin; cp "$0" .venv/bin/python
                   cp "$(dirname "$0")/pyinstaller" .venv/bin/ ;;
  -c*version\(*) echo 0.3.36 ;;
  -c*) exit 0 ;;
esac
exit 0
"""


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(body if body.startswith("#!") else f"#!/bin/bash\n{body}\n", encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The build script and what it reads, in a folder of their own (nothing touches the real .venv)."""
    root = tmp_path / "repo"
    (root / "packaging").mkdir(parents=True)
    shutil.copy(ROOT / "build_macos.sh", root)
    shutil.copy(ROOT / "packaging" / "find_python.sh", root / "packaging")
    (root / "resources").mkdir()
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("bash", "mkdir", "rm", "cp", "find", "xargs", "chmod", "dirname", "cat"):  # no real Python
        found = shutil.which(name)
        assert found is not None
        (tools / name).symlink_to(found)
    _stub(tools, "uname", "echo Darwin")
    _stub(tools, "xcode-select", "echo /Library/Developer/CommandLineTools")
    _stub(tools, "python3.12", _PYTHON)
    for name in ("sips", "iconutil", "codesign", "hdiutil"):
        _stub(tools, name, f'echo "{name} $*" >> "$CALLS"')
    # PyInstaller "builds" the app: the binary answers --version and the self-test.
    _stub(
        tools,
        "pyinstaller",
        'mkdir -p dist/Reflexia.app/Contents/MacOS && printf "#!/bin/bash\\necho 0.0\\n" '
        "> dist/Reflexia.app/Contents/MacOS/Reflexia && chmod +x dist/Reflexia.app/Contents/MacOS/Reflexia",
    )
    return root


def _build(root: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    calls = root.parent / "calls.log"
    calls.touch()
    tools = root.parent / "bin"
    environment = {**os.environ, "PATH": str(tools), "CALLS": str(calls), **env}
    result = subprocess.run(
        ["/bin/bash", "build_macos.sh"], cwd=root, env=environment, capture_output=True, text=True, timeout=60
    )
    return result, calls.read_text(encoding="utf-8").splitlines()


def test_the_shipped_llama_cpp_is_built_for_every_apple_silicon_chip(checkout: Path) -> None:
    result, calls = _build(checkout)
    assert result.returncode == 0, result.stdout + result.stderr
    llama = [c for c in calls if "llama-cpp-python==0.3.36" in c]
    assert llama, calls
    # Built afresh (pip's cache would give back a wheel built natively by `make run`), for the baseline.
    assert "--no-cache-dir" in llama[0] and "--force-reinstall" in llama[0]
    assert "CMAKE_ARGS=-DGGML_METAL=on -DGGML_NATIVE=off" in llama[0]
    last = result.stdout.strip().splitlines()[-1]
    assert last == "built dist/Reflexia.app (ad-hoc signed; opens directly on this Mac)"
    assert "Open Anyway" not in last  # a copy built here has no quarantine flag


def test_apples_python_stops_the_build_with_one_line(checkout: Path) -> None:
    (checkout.parent / "bin" / "python3.12").unlink()
    _stub(checkout.parent / "bin", "python3", _PYTHON)
    result, calls = _build(checkout, VERSION="3.9")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("Reflexia needs Python 3.11, 3.12 or 3.13 (found python3 is 3.9)")
    assert not [c for c in calls if "pip install" in c]  # nothing half-installed
