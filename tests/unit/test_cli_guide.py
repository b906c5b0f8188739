"""docs/cli.md stays true to the command line: its commands, options and install output."""

from __future__ import annotations

import re
from pathlib import Path

import click

import baton
from baton.cli import main

GUIDE = (Path(__file__).parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")


def options(command: click.Command) -> set[str]:
    return {name for param in command.params for name in param.opts if name.startswith("--")}


def test_the_guide_lists_every_command_and_no_other() -> None:
    listed = set(re.findall(r"^\| \[`(\w+)[^`]*`\]\(#\w+\) \|", GUIDE, flags=re.MULTILINE))
    assert listed == set(main.commands)


def commands(group: click.Group) -> list[click.Command]:
    """Every command of the group, and of its groups (``limits set``…), at any depth."""
    found: list[click.Command] = []
    for command in group.commands.values():
        found.append(command)
        if isinstance(command, click.Group):
            found += commands(command)
    return found


def test_every_option_the_guide_names_exists() -> None:
    known = options(main).union(*(options(command) for command in commands(main)))
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", GUIDE))
    assert named - known == set()


def test_the_install_output_names_the_current_schema_version() -> None:
    installed = re.findall(r"^Baton schema version (\d+) installed", GUIDE, flags=re.MULTILINE)
    assert installed == [str(baton.SCHEMA_VERSION)]
