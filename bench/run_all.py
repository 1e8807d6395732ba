"""Every figure of the speed issue in one run, as one table: each benchmark with its target
and its ratio to the bare operations it measured in the same run.

Runs each script of ``bench/`` in turn (their own output goes to the terminal as they run),
on SQLite and, with ``--database-url``, on that PostgreSQL server too, then prints the
headline figures they reported (``harness.report``) as a Markdown table.

    .venv/bin/python bench/run_all.py [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Each script, its arguments, and whether it runs on PostgreSQL too.
RUNS: list[tuple[str, list[str], bool]] = [
    ("issue.py", ["--count", "1000"], False),
    ("awards_http.py", [], True),
    ("bulk.py", ["--rows", "10000"], True),
    ("pages.py", [], True),
    ("verify.py", [], False),
    ("mail.py", [], False),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL server to measure on as well")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="issuer-bench-report-") as folder:
        report = Path(folder) / "figures.jsonl"
        report.touch()
        environment = {**os.environ, "BENCH_REPORT": str(report)}
        failed = []
        for script, script_arguments, on_postgresql in RUNS:
            databases: list[list[str]] = [[]]
            if on_postgresql and arguments.database_url:
                databases.append(["--database-url", arguments.database_url])
            for database in databases:
                command = [sys.executable, str(HERE / script), *script_arguments, *database]
                print(f"\n$ {' '.join(command[1:])}", flush=True)
                completed = subprocess.run(command, env=environment, check=False)  # noqa: S603
                if completed.returncode != 0:
                    failed.append(" ".join(command[1:]))
        figures = [json.loads(line) for line in report.read_text("utf-8").splitlines()]
    print("\n| what | measured | ratio (bare operations measured in the same run) | target |")
    print("|---|---|---|---|")
    for figure in figures:
        cells = (figure[column] for column in ("figure", "measured", "ratio", "target"))
        print("| " + " | ".join(cells) + " |")
    if failed:
        sys.exit(f"failed: {'; '.join(failed)}")


if __name__ == "__main__":
    main()
