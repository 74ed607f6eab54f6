"""The README is part of the interface: its first commands and every command it documents exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from framedb.cli import cli, run

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_starts_with_the_two_set_up_commands() -> None:
    first_block = README.split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make demo", "make test"]


def test_make_targets_exist() -> None:
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    for target in ("install", "demo", "test", "bench"):
        assert re.search(rf"^{target}:", makefile, re.M), target


@pytest.mark.parametrize("command", sorted(set(re.findall(r"`framedb (\w+)", README))))
def test_documented_commands_exist(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert command in cli.commands
    assert run([command, "--help"]) == 0
    assert "Usage: framedb" in capsys.readouterr().out
