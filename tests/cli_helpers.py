"""Running the ``genlab`` CLI in-process from tests."""

from genlab.cli.main import main


def cli_ok(args, capsys):
    """Run ``genlab ARGS``; returns (exit code, stdout + stderr)."""
    try:
        main(args)
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out = capsys.readouterr()
    return code, out.out + out.err
