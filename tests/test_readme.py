# -*- test-case-name: tests.test_readme -*-
"""
The README's option tables match the options the code parses: a new option
without a row, or a row for an option that is gone, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Set

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from sockservice.cli.uppercase import TCPOptions
from sockservice.tap import Options

README = Path(__file__).resolve().parent.parent / "README.md"


def tableOptions(section: str) -> Set[str]:
    """
    @return: the long options named in the first column of the tables under
        the README heading C{section} (up to the next heading).
    """
    text = README.read_text(encoding="utf-8")
    start = text.index(section + "\n")
    body = re.split(r"\n#{1,3} ", text[start + len(section) :], maxsplit=1)[0]
    names: Set[str] = set()
    for line in body.splitlines():
        if line.startswith("| `--"):
            names.update(re.findall(r"`(--[a-z0-9-]+)", line.split("|")[1]))
    return names


def parsedOptions(options: usage.Options) -> Set[str]:
    """
    @return: the long options that C{options} parses, less --help and --version.
    """
    names = {"--" + name.rstrip("=") for name in options.longOpt}
    return names - {"--help", "--version"}


class ReadmeOptionsTests(SynchronousTestCase):
    def test_server(self) -> None:
        """
        The table under "Running the server" has one row per option of
        C{twistd sockservice}.
        """
        self.assertEqual(tableOptions("## Running the server"), parsedOptions(Options()))

    def test_client(self) -> None:
        """
        The table under "Client" names every option of
        C{sockservice-client tcp}.
        """
        self.assertEqual(tableOptions("## Client"), parsedOptions(TCPOptions()))
