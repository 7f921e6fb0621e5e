"""The README as a new user reads it (issue 21): every `ledger` command it shows exists
with the options it uses, and its shell lines work in any shell."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from typer.main import get_command

from ledger.cli import app

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
COMMANDS = re.findall(r"python3 dev\.py ledger ([^\n`]+)", README)


def test_the_readme_shows_ledger_commands() -> None:
    assert len(COMMANDS) >= 10


def test_every_ledger_command_in_the_readme_exists_with_its_options() -> None:
    cli = get_command(app)
    for line in COMMANDS:
        words = shlex.split(line.split("#")[0].split(">")[0].split("|")[0])
        command = cli.get_command(None, words[0])  # type: ignore[attr-defined]
        assert command is not None, line
        if hasattr(command, "get_command") and len(words) > 1:  # a group: `export parquet`
            command = command.get_command(None, words[1])
            assert command is not None, line
        known = {opt for param in command.params for opt in param.opts + param.secondary_opts}
        used = {w.split("=")[0] for w in words if w.startswith("--")}
        assert used <= known, (line, used - known)


def test_no_fixed_positions_and_no_word_splitting_of_variables() -> None:
    assert "6650" not in README  # a position is the reader's own, not the example's
    # `$L audit ...` with L="python3 dev.py ledger" works in bash only (zsh does not split)
    assert not re.search(r"^\$[A-Z]+ ", README, re.M)
