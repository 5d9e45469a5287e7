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
    EngineClosedError,
    Game,
    IllegalActionError,
    InvalidArgumentError,
    Round,
    SelfPlayEngine,
    TicketError,
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
    "EngineClosedError",
    "Game",
    "IllegalActionError",
    "InvalidArgumentError",
    "Round",
    "SelfPlayEngine",
    "TicketError",
    "__version__",
    "card_index",
    "card_name",
]

# The Python side (BlobNet, presets, replay shards, the inference loop) is
# loaded on first use, so `import blobmaster` stays fast and torch-free for
# code that only needs the game engine.
_LAZY = {
    "BlobNet": "blobmaster.model",
    "DeviceError": "blobmaster.model",
    "ModelConfig": "blobmaster.model",
    "ModelError": "blobmaster.model",
    "default_model": "blobmaster.model",
    "load_model": "blobmaster.model",
    "resolve_device": "blobmaster.model",
    "save_model": "blobmaster.model",
    "ConfigError": "blobmaster.config",
    "load_config": "blobmaster.config",
    "ShardError": "blobmaster.replay",
    "ShardMetadata": "blobmaster.replay",
    "read_shards": "blobmaster.replay",
    "validate_shard": "blobmaster.replay",
    "write_shard": "blobmaster.replay",
    "SelfPlaySummary": "blobmaster.inference",
    "run_selfplay": "blobmaster.inference",
    "Agent": "blobmaster.agents",
    "AgentError": "blobmaster.agents",
    "parse_agent_spec": "blobmaster.agent_specs",
    "ArenaError": "blobmaster.arena",
    "ArenaReport": "blobmaster.arena",
    "play_duplicate": "blobmaster.arena",
    # The train() function itself is not exported here: its name is taken by
    # the submodule blobmaster.train (use `from blobmaster.train import train`).
    "TrainConfig": "blobmaster.train",
    "TrainError": "blobmaster.train",
    "TrainSummary": "blobmaster.train",
    "load_train_config": "blobmaster.train",
    "LoopConfig": "blobmaster.loop",
    "LoopConfigError": "blobmaster.loop",
    "LoopError": "blobmaster.loop",
    "LoopSummary": "blobmaster.loop",
    "load_loop_config": "blobmaster.loop",
    "run_loop": "blobmaster.loop",
    "ReportError": "blobmaster.report",
    "write_report": "blobmaster.report",
}
__all__ += list(_LAZY)


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'blobmaster' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
