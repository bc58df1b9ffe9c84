"""Configuration from the environment, secrets from the secrets folder, and their masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestor import config, redaction


def test_typed_env_values_fall_back_to_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("X_INT", raising=False)
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_LIST", " a, b ,,c ")
    assert config.env_int("X_INT", 7) == 7
    assert config.env_bool("X_BOOL", False) is True
    assert config.env_list("X_LIST", []) == ["a", "b", "c"]


@pytest.mark.parametrize(("getter", "raw"), [(config.env_int, "seven"), (config.env_float, "1,5"),
                                             (config.env_bool, "maybe")])
def test_a_malformed_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, getter, raw: str) -> None:
    monkeypatch.setenv("X_BAD", raw)
    with pytest.raises(config.ConfigError, match="X_BAD"):
        getter("X_BAD", 0)


def test_a_secret_comes_from_its_file_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "ha-token").write_text("from-file-token\n")
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("HA_TOKEN", "from-env-token")
    assert config.secret("ha-token", "HA_TOKEN") == "from-file-token"


def test_a_secret_falls_back_to_its_env_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("HA_TOKEN", "from-env-token")
    assert config.secret("ha-token", "HA_TOKEN") == "from-env-token"
    assert config.secret("absent") is None


def test_every_secret_read_is_redacted_from_text(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "api-key").write_text("abcd1234efgh")
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    config.secret("api-key")
    assert redaction.redact("key=abcd1234efgh!") == "key=[REDACTED]!"


def test_mask_keeps_only_the_last_four_characters() -> None:
    assert config.mask("sk-0123456789") == "*********6789"
    assert config.mask("abc") == "****"
    assert config.mask(None) is None
