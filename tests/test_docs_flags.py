"""The docs and the command line agree: every flag the docs give a command (in a
``neurodeploy COMMAND ...`` line, continuation lines included) is one its parser
takes, and every flag a command takes is named somewhere in the docs."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from neurodeploy.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def parsers() -> dict[str, set[str]]:
    """Each command's flags (``-h``/``--help`` aside)."""
    subparsers = build_parser()._subparsers._group_actions[0].choices
    return {name: {flag for action in parser._actions for flag in action.option_strings
                   if flag.startswith("--") and flag != "--help"} for name, parser in subparsers.items()}


def invocations() -> list[tuple[str, str, str]]:
    """(doc, command, the command line) of every ``neurodeploy COMMAND`` line in the docs,
    its ``\\``-continued lines joined."""
    found = []
    commands = set(parsers())
    for doc in DOCS:
        lines = doc.read_text(encoding="utf-8").splitlines()
        index = 0
        while index < len(lines):
            line = lines[index]
            while line.rstrip().endswith("\\") and index + 1 < len(lines):
                index += 1
                line = line.rstrip()[:-1] + " " + lines[index]
            for match in re.finditer(r"neurodeploy (\w[\w-]*)", line):
                if match[1] in commands:
                    rest = line[match.end():]
                    following = re.search(r"neurodeploy \w|#|;|&&|\||`", rest)  # a backtick ends inline code
                    found.append((doc.name, match[1], rest[: following.start()] if following else rest))
            index += 1
    return found


@pytest.mark.parametrize("doc, command, line", invocations())
def test_every_flag_the_docs_give_a_command_is_one_it_takes(doc, command, line):
    unknown = set(FLAG.findall(line)) - parsers()[command]
    assert not unknown, f"{doc}: neurodeploy {command}{line}: {sorted(unknown)} not in `neurodeploy {command} --help`"


def test_every_flag_of_every_command_is_in_the_docs():
    text = "\n".join(doc.read_text(encoding="utf-8") for doc in DOCS)
    named = set(FLAG.findall(text))
    missing = {command: sorted(flags - named) for command, flags in parsers().items() if flags - named}
    assert not missing, f"flags no doc names: {missing}"
