"""The HA virtualenv follows its recipe (constraints + packages): built once, updated in place when the recipe
changes, so an HA process another test run started from it keeps running; rebuilt when its build never finished.
Shown with a two-package recipe from PyPI (about 15 s)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.homeassistant import ensure_venv

pytestmark = pytest.mark.integration


def test_a_changed_recipe_updates_the_venv_in_place_under_a_running_process(tmp_path: Path) -> None:
    venv, constraints = tmp_path / ".venv-ha", tmp_path / "constraints.txt"
    constraints.write_text("six==1.17.0\npytz==2026.6\n")
    python, _ = ensure_venv(venv, constraints, ["six"], executable="python")
    inode = venv.stat().st_ino
    running = subprocess.Popen([str(python), "-c", "import six, sys; sys.stdin.read(); import pytz"],
                               stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert ensure_venv(venv, constraints, ["six"], executable="python")[1] < 1  # the same recipe: reused
        ensure_venv(venv, constraints, ["six", "pytz"], executable="python")
        assert venv.stat().st_ino == inode and running.poll() is None
        _, err = running.communicate(b"", timeout=30)  # the running process now finds what the update added
        assert running.returncode == 0, err
    finally:
        running.kill()
    assert (venv / ".ha-installed").read_text() != ""
    subprocess.run([str(python), "-c", "import pytz"], check=True)


def test_a_venv_whose_build_never_finished_is_built_again(tmp_path: Path) -> None:
    venv, constraints = tmp_path / ".venv-ha", tmp_path / "constraints.txt"
    constraints.write_text("six==1.17.0\n")
    venv.mkdir()
    (venv / "leftover").write_text("from an interrupted build")  # no stamp: never completed
    python, _ = ensure_venv(venv, constraints, ["six"], executable="python")
    assert not (venv / "leftover").exists()
    subprocess.run([str(python), "-c", "import six"], check=True)
