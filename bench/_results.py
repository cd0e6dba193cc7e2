"""bench/RESULTS.md: one section per benchmark, each with its own table.

A run adds its rows at the end of its own section's table (creating the section the
first time), so benchmarks can run in any order without their rows mixing.
"""

from __future__ import annotations

import platform
import unicodedata
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
FILE_HEADER = """# Benchmark results

One section per benchmark; every run appends rows to its section's table. Absolute times
depend on the machine; the ratios against a baseline measured in the same run travel
between machines better.
"""


def now() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


def python_version() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def pad(text: str, width: int) -> str:
    """Left-align for a terminal, where a Han character takes two columns."""
    columns = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - columns)


def append_rows(heading: str, section: str, rows: list[str], path: Path = RESULTS) -> None:
    """Add table rows to the section titled `heading` ("## …"), created from `section`
    (the heading line, explanation and table header) when the file lacks it."""
    text = path.read_text(encoding="utf-8") if path.exists() else FILE_HEADER
    lines = text.splitlines()
    if heading not in lines:
        if lines and lines[-1].strip():
            lines.append("")
        lines.extend(section.strip("\n").splitlines())
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    last_row = max(i for i in range(start, end) if lines[i].startswith("|"))
    lines[last_row + 1 : last_row + 1] = [row.rstrip("\n") for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
