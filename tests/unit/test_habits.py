"""`make lint` is the source of truth; pre-commit runs the same commands, and `make help`
describes every target."""

from __future__ import annotations

import re
import subprocess

import yaml

from tests.conftest import PROJECT_ROOT


def _recipe(target: str) -> list[str]:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    block = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert block, f"no {target} target"
    return [line.strip().replace("$(VENV)", ".venv") for line in block.group(1).splitlines()]


def test_pre_commit_runs_exactly_the_lint_commands():
    config = yaml.safe_load((PROJECT_ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert all(repo["repo"] == "local" for repo in config["repos"]), "no network for hooks"
    assert [hook["entry"] for hook in hooks] == _recipe("lint")
    assert all(hook["pass_filenames"] is False for hook in hooks), "whole tree, as make lint"


def test_make_help_lists_every_target():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    output = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = set(re.findall(r"make (\S+)", output))
    assert targets == listed
