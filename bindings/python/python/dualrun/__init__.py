"""dualrun for Python nodes.

Block ids and parsing as the daemon computes them, the leader protocol v1 validator, a read-only reader
of a node's LMDB chain database, the ``DualRun`` wrapper that runs a node's own validator and the new one
side by side under a migration mode (writing the same run directory a ``dualrun replay`` writes, which
``dualrun gate evaluate`` takes as evidence), the golden-vector check, and ``timings`` — a finished run's
per-block timings. See docs/python.md.
"""

from . import golden
from ._native import (
    BlockError,
    ChainError,
    ChainReader,
    DualRun,
    LeaderValidator,
    Profile,
    ProfileError,
    Verdict,
    __version__,
    block_id,
    parse_block,
    timings,
)

__all__ = [
    "BlockError",
    "ChainError",
    "ChainReader",
    "DualRun",
    "LeaderValidator",
    "Profile",
    "ProfileError",
    "Verdict",
    "__version__",
    "block_id",
    "golden",
    "parse_block",
    "timings",
]
