"""The README documents every command and every environment variable, so docs never drift from code."""
from pathlib import Path

import click

from bot.cli import main
from bot.config import ENV_VARS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "dre-bot"):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}"


def test_every_cli_command_is_in_the_readme():
    missing = [c for c in _commands(main) if f"`{c}" not in README]
    assert not missing, f"document these in README.md's Commands table: {missing}"


def test_every_environment_variable_is_in_the_readme():
    missing = [v for v in ENV_VARS if f"`{v}`" not in README]
    assert not missing, f"document these in README.md's Environment table: {missing}"


def test_readme_gives_exactly_the_two_setup_commands():
    assert "make run" in README and "make test" in README
