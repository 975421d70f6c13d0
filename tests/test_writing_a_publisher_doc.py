"""docs/writing-a-publisher.md is runnable: its package, fake and contract test pass as written."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "writing-a-publisher.md"


def test_the_walkthrough_package_passes_the_contract_kit(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    files = {}
    for block in blocks:
        first = block.splitlines()[0]
        assert first.startswith("# "), f"a python block of the guide does not name its file: {first}"
        files[first[2:].strip()] = block
    assert set(files) == {"schedulerx_pastebox/__init__.py", "schedulerx_pastebox/publisher.py",
                          "tests/fake_pastebox.py", "tests/test_contract.py"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "tests" / "__init__.py").write_text("")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                          "-p", "no:cacheprovider", "tests"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "10 passed, 3 skipped" in run.stdout, run.stdout[-2000:]
