"""BlobNet, the policy/value network, and its single-file TorchScript format.

The network maps the 256-float observation of one seat, the observer
(docs/observation.md), to

* ``policy``: 66 logits, one per action (cards 0..51, bids 52..65), for the
  move of the player to move: the observer's own move when it is to move,
  else its prediction of the mover's. Illegal actions are not masked here;
  the self-play engine applies a masked softmax in Rust, and a trainer
  masks before its loss.
* ``value``: 8 numbers in [0, 1] (a sigmoid), entry k the predicted round
  score of the seat k places after the observer, divided by ``10 + cards``;
  entries past the table size are meaningless and ignored. The trainer
  uses :meth:`BlobNet.forward_logits` (the value logits before the
  sigmoid); scripted files and inference always return probabilities.

The search asks for the searching seat's view of every leaf, whoever moves
there (docs/training.md, "Search"), so both heads serve other seats' moves.

Architecture, kept like-for-like with the earlier Python system so that
throughput comparisons measure the pipeline and not the network: a linear
input layer 256 -> ``d_model``, ``layers`` pre-norm TransformerEncoder
layers over a sequence of length 1, then separate policy and value heads
(two-layer MLPs). With a single token, attention has one key and its softmax
is 1, so each encoder layer is in effect a residual MLP (value and output
projections, then the feed-forward block). The transformer framing is kept
on purpose for the comparison (the default has about 5M parameters, as the
earlier network did), not because attention does anything here.

File format: one TorchScript archive (``torch.jit.save``) holding the
scripted network plus an extra file ``blobmaster.json`` with the format
name and version and the :class:`ModelConfig`. :func:`save_model` writes it
to a temporary name in the target folder and renames it into place, so a
reader never sees half a file. :func:`load_model` checks the file and runs
a probe batch through it before returning.

TorchScript is deprecated in recent torch releases (``torch.jit`` emits a
FutureWarning) but still fully supported; the project uses it because the
inference server loads a scripted file without the Python class
(docs/architecture.md). The
warnings are silenced only around our own calls.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import os
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch
from torch import nn

from blobmaster._core import MAX_PLAYERS, NUM_ACTIONS, OBS_SIZE
from blobmaster.atomic import atomic_write

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "BlobNet",
    "DeviceError",
    "ModelConfig",
    "ModelError",
    "ModelInfo",
    "default_model",
    "for_inference",
    "load_model",
    "load_model_info",
    "resolve_device",
    "save_model",
    "script_model",
]

FORMAT_NAME = "blobmaster-model"
"""The ``format`` field of the metadata stored inside every model file."""
FORMAT_VERSION = 1
"""Version of the model file format; files with a newer version are refused."""
_META_NAME = "blobmaster.json"


class ModelError(ValueError):
    """A model file or model object that cannot be used; the message says why."""


class DeviceError(ValueError):
    """A device name that is unknown or not available on this machine."""


@dataclass(frozen=True)
class ModelConfig:
    """Size of a BlobNet. The defaults are the like-for-like network (~5M
    parameters); :meth:`tiny` is for tests."""

    d_model: int = 256
    """Width of the input projection and of every encoder layer."""
    layers: int = 6
    """TransformerEncoder layers."""
    heads: int = 8
    """Attention heads per layer; must divide ``d_model``."""
    ff: int = 1024
    """Hidden width of each layer's feed-forward block."""
    dropout: float = 0.0
    """Dropout inside the encoder (training only; self-play runs in eval mode)."""

    @classmethod
    def tiny(cls) -> ModelConfig:
        """A very small network for tests (about 21k parameters)."""
        return cls(d_model=32, layers=1, heads=2, ff=64)

    def validate(self) -> None:
        """Raises ModelError if a field is out of range."""
        for name in ("d_model", "layers", "heads", "ff"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelError(f"model config: {name} must be a positive integer, got {value!r}")
        if self.d_model % self.heads:
            raise ModelError(
                f"model config: heads ({self.heads}) must divide d_model ({self.d_model})"
            )
        if not (isinstance(self.dropout, (int, float)) and 0.0 <= self.dropout < 1.0):
            raise ModelError(f"model config: dropout must be in [0, 1), got {self.dropout!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelError(f"model config: unknown keys {unknown}")
        config = cls(**dict(data))
        config.validate()
        return config


class BlobNet(nn.Module):
    """Observation (B, 256) -> (policy logits (B, 66), values (B, 8) in [0, 1])."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        config = config or ModelConfig()
        config.validate()
        self.config = config
        d = config.d_model
        self.input = nn.Linear(OBS_SIZE, d)
        layer = nn.TransformerEncoderLayer(
            d_model=d,
            nhead=config.heads,
            dim_feedforward=config.ff,
            dropout=config.dropout,
            batch_first=True,
            norm_first=True,
        )
        # enable_nested_tensor only matters for padded sequences; we have none.
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)  # pre-norm layers leave the output unnormalized
        self.policy_head = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, NUM_ACTIONS))
        self.value_head = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, MAX_PLAYERS))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        policy, value_logits = self.forward_logits(x)
        return policy, torch.sigmoid(value_logits)

    @torch.jit.export
    def forward_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(policy logits (B, 66), value logits (B, 8)): the outputs before the
        value sigmoid, for the trainer's losses (a BCE on the logits keeps its
        gradient where a saturated sigmoid output would have none)."""
        h = self.forward_hidden(x)
        return self.policy_head(h), self.value_head(h)

    @torch.jit.export
    def forward_hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's features (B, d) that the heads read (the trainer's
        auxiliary heads read them too)."""
        h = self.input(x).unsqueeze(1)  # (B, 1, d): a sequence of one token
        h = self.encoder(h).squeeze(1)
        return self.norm(h)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


@contextlib.contextmanager
def _quiet_jit() -> Iterator[None]:
    """Silences torch's "torch.jit.* is deprecated" FutureWarnings, only here."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*torch\.jit.*deprecated", category=FutureWarning
        )
        yield


def _tensor_copy(
    t: torch.Tensor, device: torch.device | None, dtype: torch.dtype | None
) -> torch.Tensor:
    """A detached copy of ``t`` with its own storage; ``dtype`` applies to
    floating-point tensors only (integer buffers keep theirs)."""
    dtype = dtype if dtype is not None and t.is_floating_point() else None
    return t.detach().to(device=device or t.device, dtype=dtype or t.dtype, copy=True)


def _module_copy(
    model: nn.Module, device: torch.device | None = None, dtype: torch.dtype | None = None
) -> nn.Module:
    """A deep copy of ``model`` whose parameters and buffers are new tensors
    (on ``device``/``dtype`` when given), without gradients. The copy is
    made directly on the target device: the source's tensors are never
    duplicated where they live (a GPU copy of a training network would
    cost device memory for nothing)."""
    if isinstance(model, torch.jit.ScriptModule):
        # A scripted module deep-copies through its C++ object (the memo below
        # is not consulted); without no_grad its parameters would be clones
        # with a grad_fn rather than leaves.
        with torch.no_grad():
            copied = copy.deepcopy(model)
        return copied.to(device=device) if dtype is None else copied.to(device=device, dtype=dtype)
    memo: dict[int, Any] = {}
    for p in model.parameters():
        memo[id(p)] = nn.Parameter(_tensor_copy(p, device, dtype), requires_grad=p.requires_grad)
    for b in model.buffers():
        memo[id(b)] = _tensor_copy(b, device, dtype)
    return copy.deepcopy(model, memo)


def for_inference(model: nn.Module, device: torch.device | str) -> nn.Module:
    """``model`` ready to serve on ``device`` in eval mode, without changing
    the caller's module: ``model`` itself when it is already there and in
    eval mode, else a copy on ``device`` in eval mode (the copy is made
    directly on the device)."""
    device = torch.device(device)
    tensors = [*model.parameters(), *model.buffers()]
    here = all(_same_device(t.device, device) for t in tensors)
    if here and not any(m.training for m in model.modules()):
        return model
    return _module_copy(model, device).eval()


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    if a.type != "cuda":
        return True
    index = torch.cuda.current_device() if b.index is None else b.index
    return (a.index if a.index is not None else torch.cuda.current_device()) == index


def _scripted_copy(
    model: nn.Module, device: torch.device | None = None, dtype: torch.dtype | None = None
) -> torch.jit.ScriptModule:
    if not isinstance(model, nn.Module):
        raise ModelError(f"expected a torch.nn.Module, got {type(model).__name__}")
    copied = _module_copy(model, device, dtype).eval()
    if isinstance(copied, torch.jit.ScriptModule):
        return copied
    with _quiet_jit():
        try:
            scripted = torch.jit.script(copied)
        except Exception as e:  # torch raises many kinds of errors here
            raise ModelError(
                f"cannot script {type(model).__name__} with torch.jit.script: {e}"
            ) from e
    return scripted.eval()


def script_model(model: nn.Module) -> torch.jit.ScriptModule:
    """The TorchScript version of ``model`` (a copy if it is already
    scripted), in eval mode, on the same device and dtype.

    It is always built from a deep copy: scripting shares parameters with
    the scripted module, so moving, casting or switching the mode of the
    result would otherwise change the caller's network (issue #9). The
    caller's module keeps its parameters, device, dtype and training mode.
    """
    return _scripted_copy(model)


def default_model(seed: int = 0, config: ModelConfig | None = None) -> BlobNet:
    """A freshly initialized BlobNet (default size unless ``config``), the
    same weights for the same seed on every machine; in eval mode. Torch's
    global random state is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BlobNet(config)
    return model.eval()


def _config_of(model: nn.Module) -> ModelConfig | None:
    config = getattr(model, "config", None)
    return config if isinstance(config, ModelConfig) else None


def save_model(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    config: ModelConfig | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Writes ``model`` as one TorchScript file at ``path`` (atomically:
    temporary file in the same folder, then rename) and returns the path.

    The file stores the format name and version, the model config (taken
    from a BlobNet, or given as ``config``) and ``extra`` (JSON-serializable
    notes such as a training step) next to the weights. What is saved is a
    scripted copy on the CPU in float32 and eval mode, whatever the
    device, dtype and mode of ``model``; the caller's module is not
    modified (not moved, cast, or switched to eval mode).
    """
    path = Path(path)
    if config is None:
        config = _config_of(model)
    scripted = _scripted_copy(model, torch.device("cpu"), torch.float32)
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": config.to_dict() if config is not None else None,
        "torch_version": torch.__version__,
        "extra": dict(extra or {}),
    }
    try:
        meta_json = json.dumps(meta, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise ModelError(f"model metadata is not JSON-serializable: {e}") from e

    def write(f: IO[bytes]) -> None:
        with _quiet_jit():
            torch.jit.save(scripted, f, _extra_files={_META_NAME: meta_json})

    return atomic_write(path, write)


@dataclass(frozen=True)
class ModelInfo:
    """What a model file says about itself, plus its content hash."""

    path: str
    sha256: str
    format_version: int | None
    """None for a TorchScript file not written by save_model."""
    config: ModelConfig | None
    extra: dict[str, Any]

    @property
    def id(self) -> str:
        """A short stable identity for replay metadata: ``sha256:<16 hex>``."""
        return f"sha256:{self.sha256[:16]}"


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelError(f"model path is not a file: {path}")
    if not os.access(path, os.R_OK):
        raise ModelError(f"model file is not readable: {path}")


def _parse_meta(
    path: Path, raw: bytes | str | None
) -> tuple[int | None, ModelConfig | None, dict[str, Any]]:
    if not raw:
        return None, None, {}
    try:
        meta = json.loads(raw)
    except ValueError as e:
        raise ModelError(f"{path}: the {_META_NAME} metadata is not valid JSON") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelError(f"{path}: the {_META_NAME} metadata is not a {FORMAT_NAME} header")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelError(f"{path}: the model format version is missing or not an integer")
    if version > FORMAT_VERSION:
        raise ModelError(
            f"{path}: model format version {version} is newer than this blobmaster supports ({FORMAT_VERSION})"
        )
    config = ModelConfig.from_dict(meta["config"]) if meta.get("config") is not None else None
    extra = meta.get("extra") or {}
    return version, config, dict(extra)


def load_model_info(path: str | os.PathLike[str]) -> ModelInfo:
    """Reads a model file's metadata and hash without loading the weights."""
    path = Path(path)
    _check_file(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith(f"/extra/{_META_NAME}")]
            raw = z.read(names[0]) if names else None
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelError(f"not a TorchScript model file: {path} ({e})") from e
    version, config, extra = _parse_meta(path, raw)
    return ModelInfo(str(path), digest.hexdigest(), version, config, extra)


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``"auto"``: the first CUDA device when CUDA is available, else the
    CPU. ``"cpu"``, ``"cuda"`` and ``"cuda:N"`` are checked against this
    machine; anything else raises DeviceError."""
    if isinstance(name, torch.device):
        name = str(name)
    key = str(name).strip().lower()
    if key == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if key == "cpu":
        return torch.device("cpu")
    if key == "cuda" or key.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {name!r} requested but CUDA is not available on this machine"
            )
        try:
            device = torch.device(key)
        except RuntimeError as e:
            raise DeviceError(f"bad device name {name!r}: {e}") from e
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) present"
            )
        return device
    raise DeviceError(f"unknown device {name!r} (expected auto, cpu, cuda or cuda:N)")


def check_model(
    model: nn.Module, device: torch.device | str = "cpu", *, name: str = "model"
) -> None:
    """Runs a probe batch of 2 observations through ``model`` on ``device``
    and raises ModelError unless it returns (policy (2, 66), values (2, 8)),
    finite, with values in [0, 1]."""
    device = torch.device(device)
    probe = torch.zeros(2, OBS_SIZE, device=device)
    probe[:, OBS_SIZE - 1] = 1.0
    try:
        with torch.inference_mode():
            out = model(probe)
    except Exception as e:  # a model that cannot run is bad input, whatever torch raises
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{name} fails on a (2, {OBS_SIZE}) float32 input: {first}") from e
    if not (
        isinstance(out, (tuple, list))
        and len(out) == 2
        and all(isinstance(t, torch.Tensor) for t in out)
    ):
        raise ModelError(f"{name} must return (policy, value) tensors, got {type(out).__name__}")
    policy, value = out
    for what, t, width in (("policy", policy, NUM_ACTIONS), ("value", value, MAX_PLAYERS)):
        if tuple(t.shape) != (2, width):
            raise ModelError(
                f"{name} returns {what} of shape {tuple(t.shape)} for 2 observations, expected (2, {width})"
            )
        if not t.is_floating_point() or not bool(torch.isfinite(t).all()):
            raise ModelError(f"{name} returns a non-finite or non-float {what}")
    if bool((value < 0).any()) or bool((value > 1).any()):
        raise ModelError(f"{name} returns values outside [0, 1] (the value head needs a sigmoid)")


def load_model(
    path: str | os.PathLike[str], device: torch.device | str = "cpu"
) -> torch.jit.ScriptModule:
    """Loads a TorchScript model file onto ``device`` in eval mode and checks it.

    Raises ModelError naming the problem: missing or unreadable file, not a
    TorchScript archive, a newer format version, or a network whose outputs
    are not (policy (B, 66), values (B, 8) in [0, 1]) for a (B, 256) input.
    TorchScript files not written by :func:`save_model` are accepted when
    they pass the same probe.
    """
    path = Path(path)
    _check_file(path)
    device = torch.device(device) if not isinstance(device, str) else resolve_device(device)
    extra = {_META_NAME: ""}
    with _quiet_jit():
        try:
            model = torch.jit.load(str(path), map_location=device, _extra_files=extra)
        except Exception as e:  # RuntimeError, ValueError, pickle errors...
            first = (
                str(e).strip().splitlines()[0].split(". ")[0]
                if str(e).strip()
                else type(e).__name__
            )
            raise ModelError(f"not a TorchScript model file: {path} ({first})") from e
    _parse_meta(path, extra.get(_META_NAME))
    model.eval()
    check_model(model, device, name=f"model {path}")
    return model
