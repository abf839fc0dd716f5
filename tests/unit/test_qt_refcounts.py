"""The Qt binding must not corrupt reference counts (PySide6 6.12.0 did: Python aborted at exit)."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import gc, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtWidgets import QApplication, QLabel, QTextBrowser
app = QApplication([])
browser, label = QTextBrowser(), QLabel()
def calls():
    for _ in range(2000):
        browser.setHtml("<p>x</p>")
        label.setText("y")
        browser.resize(120, 80)
calls()
gc.collect()
before = (sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False))
calls()
gc.collect()
after = (sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False))
print(*(a - b for a, b in zip(after, before)))
"""


def test_void_calls_keep_none_and_bool_reference_counts() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    drift = [int(x) for x in proc.stdout.split()]
    # 6,000 calls: a binding that drops one reference per call drifts by thousands.
    assert all(abs(d) < 50 for d in drift), (
        f"reference counts drifted by {drift} (None, True, False)"
    )
