"""The golden vectors (``golden-vectors/``), judged as ``dualrun golden check`` judges them."""

import os
from typing import Union

from ._native import GoldenReport, GoldenResult, _golden_check

__all__ = ["GoldenReport", "GoldenResult", "check"]


def check(dir: Union[str, "os.PathLike[str]"]) -> GoldenReport:
    """Judges every vector under ``dir``: the same passes, failures and skips as ``dualrun golden check``."""
    return _golden_check(os.fspath(dir))
