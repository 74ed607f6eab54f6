"""What a person sees of an ingest on a terminal: a progress bar on stderr (only when stderr is a
terminal), and a line per video (JSON lines with `as_json`) printed around it."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from tqdm import tqdm


class IngestView:
    """`progress` and `show` are the callbacks `FrameDB.ingest` takes; `close` ends the bar."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.bar = tqdm(
            unit=" frames",
            unit_scale=True,
            file=sys.stderr,
            disable=not sys.stderr.isatty(),
            dynamic_ncols=True,
            leave=False,
        )

    def progress(self, path: str, frames: int) -> None:
        self.bar.set_description_str(path.rsplit("/", 1)[-1][-30:], refresh=False)
        self.bar.update(frames)

    def show(self, result: Any) -> None:
        """One video's outcome (a framedb.ingest.run.IngestResult)."""
        if self.as_json:
            self.bar.clear()
            click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
            return
        failed = result.status == "failed"
        line = f"{result.status:<9} {result.path}"
        line += f"  {result.frames} frames" if result.frames else ""
        line += f"  ({result.reason})" if result.reason and not failed else ""
        self.bar.write(
            f"failed    {result.reason}" if failed else line,
            file=sys.stderr if failed else sys.stdout,
        )

    def close(self) -> None:
        self.bar.close()
