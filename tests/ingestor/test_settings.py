"""ingestor.settings: a part's configuration declared once, read and checked once, shown with secrets masked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ingestor import settings
from ingestor.config import ConfigError
from ingestor.settings import secret, setting


@dataclass(frozen=True)
class Example:
    count: int = setting("EX_COUNT", 3, minimum=1)
    ratio: float = setting("EX_RATIO", 0.5, maximum=1.0)
    enabled: bool = setting("EX_ENABLED", False)
    names: tuple[str, ...] = setting("EX_NAMES", ("a",))
    folder: Path = setting("EX_FOLDER", Path("/tmp"))
    label: str | None = setting("EX_LABEL")
    workers: int = setting("EX_WORKERS", 4, minimum=1, maximum=8, clamp=True)
    token: str | None = secret("ex-token", env="EX_TOKEN")
    given: str = "default"

    def check(self) -> None:
        if self.label == "forbidden":
            raise ConfigError("EX_LABEL may not be 'forbidden'")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("EX_COUNT", "EX_RATIO", "EX_ENABLED", "EX_NAMES", "EX_FOLDER", "EX_LABEL", "EX_WORKERS", "EX_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    return monkeypatch


def test_without_variables_every_field_keeps_its_default(env: pytest.MonkeyPatch) -> None:
    assert settings.load(Example) == Example()


def test_each_variable_is_read_as_its_fields_type(env: pytest.MonkeyPatch) -> None:
    for name, value in {"EX_COUNT": "7", "EX_RATIO": "0.25", "EX_ENABLED": "yes", "EX_NAMES": "x, y,,z",
                        "EX_FOLDER": "/data", "EX_LABEL": "kitchen"}.items():
        env.setenv(name, value)
    loaded = settings.load(Example, given="by the caller")
    assert (loaded.count, loaded.ratio, loaded.enabled, loaded.names, loaded.folder, loaded.label, loaded.given) == (
        7, 0.25, True, ("x", "y", "z"), Path("/data"), "kitchen", "by the caller")


@pytest.mark.parametrize(("name", "value", "message"), [
    ("EX_COUNT", "many", "EX_COUNT must be an integer, got 'many'"),
    ("EX_RATIO", "half", "EX_RATIO must be a number"),
    ("EX_ENABLED", "maybe", "EX_ENABLED must be true or false"),
    ("EX_COUNT", "0", "EX_COUNT must be at least 1, got 0"),
    ("EX_RATIO", "1.5", "EX_RATIO must be at most 1.0, got 1.5"),
    ("EX_LABEL", "forbidden", "EX_LABEL may not be 'forbidden'"),
])
def test_a_bad_value_is_a_config_error_naming_its_variable(env: pytest.MonkeyPatch, name: str, value: str,
                                                            message: str) -> None:
    env.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        settings.load(Example)


def test_a_clamped_value_outside_its_bounds_takes_the_nearest_bound(env: pytest.MonkeyPatch) -> None:
    env.setenv("EX_WORKERS", "0")
    assert settings.load(Example).workers == 1
    env.setenv("EX_WORKERS", "99")
    assert settings.load(Example).workers == 8


def test_a_secret_comes_from_the_secrets_folder_and_is_never_shown_whole(env: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    (tmp_path / "ex-token").write_text("tok-0123456789abcdef\n")
    loaded = settings.load(Example)
    assert loaded.token == "tok-0123456789abcdef"
    assert "tok-0123456789abcdef" not in repr(loaded)
    shown = settings.describe(loaded)
    assert shown["token"] == "****************cdef" and shown["names"] == ["a"] and shown["folder"] == "/tmp"


def test_a_secret_falls_back_to_its_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("EX_TOKEN", "from-the-environment")
    assert settings.load(Example).token == "from-the-environment"
