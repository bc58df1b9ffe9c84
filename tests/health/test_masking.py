"""Nothing the health function shows holds a secret: URL passwords, secret-named values, known secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestor import redaction
from ingestor.health import masking


@pytest.mark.parametrize(("raw", "shown"), [
    ("postgresql://ingestor:Pa55w0rd!@db:5432/ha", "postgresql://ingestor:***@db:5432/ha"),
    ("nats://user:pw@nats:4222", "nats://user:***@nats:4222"),
    ("influxdb2://influx:8086/ha?org=home&token=abc123", "influxdb2://influx:8086/ha?org=home&token=***"),
    ("sqlite:////data/events.db", "sqlite:////data/events.db"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
])
def test_urls_keep_everything_but_their_passwords(raw: str, shown: str) -> None:
    assert masking.url(raw) == shown


def test_scrub_masks_secret_named_values_and_urls_anywhere_but_keeps_names_of_secrets() -> None:
    shown = masking.scrub({"api_key": "abcdefgh1234", "nested": [{"url": "redis://:hunter22@h/0"}],
                           "secrets": ["s3-secret-key"], "credentials": "configured", "token_set": True})
    assert shown == {"api_key": "********1234", "nested": [{"url": "redis://:***@h/0"}],
                     "secrets": ["s3-secret-key"], "credentials": "configured", "token_set": True}


def test_every_file_in_the_secrets_folder_is_redacted_wherever_it_appears(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "some-api-token").write_text("tok-4f8a9c1e77\n")
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    masking.register_secret_files()
    assert "tok-4f8a9c1e77" not in masking.scrub({"message": "failed with tok-4f8a9c1e77"})["message"]
    assert redaction.REPLACEMENT in masking.scrub("tok-4f8a9c1e77")
