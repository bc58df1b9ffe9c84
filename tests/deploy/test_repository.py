"""The repository is self-contained: nothing it runs, tests or cites lives outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(r"\.\./shared|shared/home-assistant|DESIGN\.md")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    suffixes = {".py", ".sh", ".md", ".yml", ".yaml", ".js", ".txt", ".toml", ".cfg", ""}
    return [REPO / n for n in names.splitlines() if Path(n).suffix in suffixes and (REPO / n).is_file()]


def test_no_tracked_file_points_outside_the_repository() -> None:
    this = Path(__file__).resolve()
    offenders = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
                 for path in tracked_text_files() if path != this
                 for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
                 if OUTSIDE.search(line)]
    assert offenders == []


def test_the_design_document_and_the_home_assistant_samples_are_in_the_repository() -> None:
    assert (REPO / "docs" / "design.md").is_file()
    samples = sorted((REPO / "tests" / "support" / "ha_samples").glob("sample_*.json"))
    assert [p.name for p in samples] == [
        "sample_area_registry_list.json", "sample_auth_handshake.json", "sample_device_registry_list.json",
        "sample_entity_registry_list.json", "sample_get_states.json", "sample_logbook.json",
        "sample_state_changed.json", "sample_state_changed_parent_chain.json", "sample_state_changed_same_context.json",
        "sample_subscribe_events.json",
    ]
