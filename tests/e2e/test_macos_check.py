"""packaging/macos_check.sh, run here against stand-ins for the app and macOS's own tools.

The real check needs a Mac. What can be tested here is the script itself: that it reads each fact
from the lines the app logs (window, focus, status item, shortcut, Metal, layers), quits the app,
prints the system's memory figures beside Reflexia's, and fails naming what is missing.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "macos_check.sh"

_APP = r"""#!/bin/bash
case "$1" in
  --self-test)
    echo "ggml_metal_init: found device: Apple M2 Pro" >&2
    echo "load_tensors: offloaded ${OFFLOADED:-3/3} layers to GPU" >&2
    echo '{"ok": true, "window_s": 0.4}' ;;
  --verbose)
    trap 'exit 0' TERM
    echo "INFO reflexia.desktop: window shown in 0.61 s" >&2
    echo "INFO reflexia.ui.tray_agent: status item shown in the menubar" >&2
    echo "INFO reflexia.services.global_shortcut: ${SHORTCUT:-global shortcut Ctrl+Shift+Space registered}" \
      >&2
    echo "INFO reflexia.desktop: window has the focus: yes (visible True, app ApplicationActive)" >&2
    while true; do sleep 0.1; done ;;
  doctor)
    echo "ok       memory: 18.2 GB free of 32.0 GB (43% used, read by vm_stat + sysctl)" ;;
esac
"""


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(body if body.startswith("#!") else f"#!/bin/bash\n{body}\n", encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def mac(tmp_path: Path) -> dict[str, str]:
    tools = tmp_path / "bin"
    tools.mkdir()
    _stub(tools, "uname", "echo Darwin")
    _stub(tools, "memory_pressure", "echo 'System-wide memory free percentage: 88%'")
    _stub(tools, "sysctl", 'for n in "$@"; do echo "$n: 1"; done')
    _stub(tools, "vm_stat", "echo 'Mach Virtual Memory Statistics: (page size of 16384 bytes)'")
    app = tmp_path / "Reflexia.app"
    (app / "Contents" / "MacOS").mkdir(parents=True)
    _stub(app / "Contents" / "MacOS", "Reflexia", _APP)
    return {"PATH": f"{tools}:/usr/bin:/bin", "REFLEXIA_APP": str(app), "TMPDIR": str(tmp_path)}


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(SCRIPT), "--no-build"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_fact_a_maintainer_needs_is_printed(mac: dict[str, str]) -> None:
    result = _check(mac)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for line in (
        '{"ok": true, "window_s": 0.4}',
        "found device: Apple M2 Pro",
        "offloaded 3/3 layers to GPU",
        "window shown in 0.61 s",
        "window has the focus: yes",
        "status item shown in the menubar",
        "global shortcut Ctrl+Shift+Space registered",
        "quit on SIGTERM: exit 0",
        "read by vm_stat + sysctl",
        "System-wide memory free percentage: 88%",
        "kern.memorystatus_vm_pressure_level: 1",
        "page size of 16384 bytes",
        "all checks passed",
    ):
        assert line in out


def test_a_shortcut_that_did_not_register_fails_the_check_and_says_why(mac: dict[str, str]) -> None:
    refused = "no global shortcut: Ctrl+Shift+Space could not be registered for every app (taken)"
    result = _check({**mac, "SHORTCUT": refused})
    assert result.returncode == 1
    assert "MISSING: the global shortcut" in result.stdout and refused in result.stdout


def test_on_linux_it_says_where_it_runs() -> None:
    result = subprocess.run(
        ["/bin/bash", str(SCRIPT)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "macos_check.sh checks Reflexia.app on a Mac; on Linux use 'make test-bundle'."
    )
