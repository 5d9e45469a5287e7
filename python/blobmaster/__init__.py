"""BlobMaster: self-play for Blob, an Oh Hell-style trick-taking game.

The game engine is Rust (``blobmaster._core``); this package re-exports its
public API. Cards are numbered ``suit * 13 + rank`` (two of spades = 0, ace of
diamonds = 51); actions are card indices 0..51 and bids ``BID_OFFSET + b``.
"""

from blobmaster._core import (
    BID_OFFSET,
    MAX_CARDS,
    MAX_PLAYERS,
    MIN_PLAYERS,
    NUM_ACTIONS,
    OBS_SIZE,
    BlobError,
    Game,
    IllegalActionError,
    InvalidArgumentError,
    Round,
    __version__,
    card_index,
    card_name,
)

__all__ = [
    "BID_OFFSET",
    "MAX_CARDS",
    "MAX_PLAYERS",
    "MIN_PLAYERS",
    "NUM_ACTIONS",
    "OBS_SIZE",
    "BlobError",
    "Game",
    "IllegalActionError",
    "InvalidArgumentError",
    "Round",
    "__version__",
    "card_index",
    "card_name",
]
