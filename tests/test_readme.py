"""The README's repository map is kept true (STYLE §14): every path it names exists, and every
folder of the repository and every module of glue/kstore/ is named in it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENTRY = re.compile(r"^( *)(\S+(?:, \S+)*)(?:\s{2,}|$)")


def map_entries() -> set[str]:
    """Every path the map names, as a repository-relative path ('glue/kstore/cli.py')."""
    text = (REPO / "README.md").read_text()
    block = text.split("## Repository map", 1)[1].split("```", 2)[1]
    parents: dict[int, str] = {}
    found = set()
    for line in block.splitlines():
        match = ENTRY.match(line)
        if not match or not match.group(2)[0].isalnum() and match.group(2)[0] != ".":
            continue
        depth = len(match.group(1)) // 2
        for name in match.group(2).split(", "):
            path = parents.get(depth - 1, "") + name if depth else name
            path_parts = path.rstrip("/").split("/")
            found |= {"/".join(path_parts[:i]) for i in range(1, len(path_parts) + 1)}
            if name.endswith("/"):
                parents[depth] = path
    return found


def tracked() -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.split()


def test_every_path_in_the_map_exists():
    missing = sorted(p for p in map_entries() if not (REPO / p).exists())
    assert not missing, f"README map names paths that do not exist: {missing}"


def test_every_folder_and_module_is_in_the_map():
    entries = map_entries()
    top = {f.split("/")[0] for f in tracked() if "/" in f and not f.startswith(".")}
    package = REPO / "glue" / "kstore"
    modules = {f"glue/kstore/{p.name}" for p in package.iterdir()
               if p.name != "__init__.py" and not p.name.startswith("__")
               and (p.suffix == ".py" or (p / "__init__.py").exists())}
    unnamed = sorted((top | modules) - entries)
    assert not unnamed, f"README map does not name: {unnamed}"
