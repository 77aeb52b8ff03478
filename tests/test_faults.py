"""Every fault bench/faults.py injects leaves a loadable checkpoint that resumes correctly."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import faults  # noqa: E402  (bench/faults.py)


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
def test_every_injected_fault_leaves_a_loadable_correct_checkpoint(capsys):
    outcomes = faults.run_all()
    with capsys.disabled():
        print("\n" + faults.table(outcomes))
    assert len(outcomes) == 13
    failed = [f"{o.fault}: {o.detail}" for o in outcomes if not o.ok]
    assert not failed, failed
