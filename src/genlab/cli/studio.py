"""``genlab studio``: the web studio (:mod:`genlab.studio`) over the runs of a runs folder."""

from __future__ import annotations

from pathlib import Path

import typer

from genlab.core.console import console


def studio_settings(runs_dir: Path | None, host: str, token_file: Path | None) -> tuple[Path, str | None]:
    """(runs folder, token): a host other than loopback without a token is refused with a hint."""
    from genlab.core.errors import ConfigError
    from genlab.core.runs import runs_root
    from genlab.serve.settings import is_loopback, read_token_file

    token = read_token_file(token_file) if token_file else None
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"refusing to open the studio on {host} without a token: anyone who can reach it could use the models",
            "give --token-file FILE (a secret of at least 16 characters), or keep the default --host 127.0.0.1",
        )
    return runs_root(runs_dir), token


def studio_cmd(
    runs_dir: Path | None = typer.Option(
        None, "--runs-dir", help="where runs live (default ./runs or $GENLAB_RUNS_DIR)"
    ),
    host: str = typer.Option("127.0.0.1", help="address to listen on; anything but loopback needs --token-file"),
    port: int = typer.Option(7860, help="TCP port"),
    token_file: Path | None = typer.Option(None, help="file holding the token the browser asks for (as password)"),
    reload_interval: float = typer.Option(2.0, help="seconds between looks for new, retrained or removed runs"),
) -> None:
    """open the web studio: generate with trained runs, browse and compare runs, train"""
    from genlab.core.optional import require

    require("gradio", "studio", "genlab studio")
    from genlab.serve.store import ModelStore
    from genlab.studio.app import CSS, build_studio, token_auth

    root, token = studio_settings(runs_dir, host, token_file)
    blocks = build_studio(ModelStore([root], reload_interval), root)
    console.print(f"genlab studio on http://{host}:{port}  (runs: {root})")
    blocks.launch(server_name=host, server_port=port, auth=token_auth(token), allowed_paths=blocks.studio_paths,
                  css=CSS, quiet=True)  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add ``studio`` to ``app``."""
    app.command("studio")(studio_cmd)
