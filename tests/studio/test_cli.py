"""``genlab studio``: its options, and no studio off loopback without a token."""

from __future__ import annotations

import os

import pytest
import typer
from typer.testing import CliRunner

from genlab.cli.studio import register, studio_settings
from genlab.core.errors import ConfigError


def test_off_loopback_needs_a_token(tmp_path):
    with pytest.raises(ConfigError, match="without a token"):
        studio_settings(tmp_path, "0.0.0.0", None)
    token = tmp_path / "token.txt"
    token.write_text("a-secret-of-24-characters\n")
    os.chmod(token, 0o600)
    root, secret = studio_settings(tmp_path / "runs", "0.0.0.0", token)
    assert root == tmp_path / "runs" and secret == "a-secret-of-24-characters"
    assert studio_settings(None, "127.0.0.1", None)[1] is None


def test_registered_command_and_options():
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        pass

    result = CliRunner().invoke(app, ["studio", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--runs-dir", "--host", "--port", "--token-file"):
        assert option in result.output
    assert "7860" in result.output and "127.0.0.1" in result.output
