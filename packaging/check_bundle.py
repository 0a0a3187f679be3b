"""Check a built bundle the way a user's machine would meet it: `make test-bundle` runs this.

1. ``Reflexia --self-test`` (offscreen): a tiny model is made and answers, a document is indexed
   and found; its JSON line is printed.
2. Time from launch to window: the app is started (offscreen, a throw-away home) and timed until
   its log says the window is shown; then SIGTERM must end it with status 0.
3. The bundle's size on disk.

Run: ``python packaging/check_bundle.py dist/Reflexia/Reflexia``. Exit 0 when all three pass.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    binary = Path(sys.argv[1]).resolve()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    started = time.perf_counter()
    test = subprocess.run([str(binary), "--self-test"], capture_output=True, text=True, env=env, timeout=600)
    self_test_s = time.perf_counter() - started
    lines = [line for line in test.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"ok": False, "error": test.stderr[-2000:]}
    print(f"self-test: exit {test.returncode} in {self_test_s:.1f} s: {json.dumps(result)}")

    env["REFLEXIA_HOME"] = tempfile.mkdtemp(prefix="reflexia-bundle-")
    started = time.perf_counter()
    app = subprocess.Popen(
        [str(binary), "--verbose"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    assert app.stderr is not None
    to_window = None
    for line in app.stderr:
        if "window shown" in line:
            to_window = time.perf_counter() - started
            break
    app.send_signal(signal.SIGTERM)
    code = app.wait(timeout=60)
    app.stderr.close()
    print(f"launch to window: {to_window:.2f} s; SIGTERM -> exit {code}" if to_window else "the window never showed")

    bundle = next((p for p in binary.parents if p.suffix == ".app"), binary.parent)
    size = folder_size(bundle)
    print(f"bundle: {bundle} {size / 2**20:.0f} MB")
    ok = test.returncode == 0 and result.get("ok") is True and to_window is not None and code == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
