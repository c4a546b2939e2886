"""Golden vectors (``golden-vectors/README.md``): the runner ``dualrun golden check`` and the gate use."""

import os

from dualrun._native import GoldenReport as GoldenReport
from dualrun._native import GoldenResult as GoldenResult

__all__ = ["GoldenReport", "GoldenResult", "check"]

def check(dir: str | os.PathLike[str]) -> GoldenReport:
    """Runs every vector under ``dir`` (``*.json``, recursively, in path order) and returns one result
    per file. Same runner and rules as ``dualrun golden check DIR``: a vector may be skipped only with a
    written reason; a skip without one, a file that cannot be read and an unknown schema are failures.
    """
