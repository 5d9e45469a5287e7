"""BlobNet: shapes, the single-file TorchScript format, bad files, devices."""

from __future__ import annotations

import os
import zipfile

import pytest
import torch
from torch import nn

from blobmaster import model as model_mod
from blobmaster.model import (
    BlobNet,
    DeviceError,
    ModelConfig,
    ModelError,
    default_model,
    load_model,
    load_model_info,
    resolve_device,
    save_model,
    script_model,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def tiny() -> BlobNet:
    return default_model(seed=3, config=ModelConfig.tiny())


def _inputs(rows: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(rows, 256, generator=g)


def test_default_model_size_and_shapes():
    net = default_model()
    assert isinstance(net, BlobNet) and not net.training
    assert net.config == ModelConfig()
    assert 4_500_000 < net.num_parameters() < 5_500_000  # "about 5M", like the earlier network
    with torch.inference_mode():
        policy, value = net(_inputs(3))
    assert policy.shape == (3, 66) and value.shape == (3, 8)
    assert policy.dtype == value.dtype == torch.float32
    assert bool(((value > 0) & (value < 1)).all())


@pytest.mark.parametrize("rows", [1, 7])
def test_tiny_model_shapes(tiny, rows):
    assert tiny.num_parameters() < 50_000
    with torch.inference_mode():
        policy, value = script_model(tiny)(_inputs(rows))
    assert policy.shape == (rows, 66) and value.shape == (rows, 8)


def test_default_model_is_seeded_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = default_model(seed=5, config=ModelConfig.tiny())
    b = default_model(seed=5, config=ModelConfig.tiny())
    c = default_model(seed=6, config=ModelConfig.tiny())
    assert torch.equal(torch.random.get_rng_state(), state)
    for (name, pa), pb, _pc in zip(
        a.state_dict().items(), b.state_dict().values(), c.state_dict().values()
    ):
        assert torch.equal(pa, pb), name
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


def test_bad_config_is_rejected():
    with pytest.raises(ModelError, match="heads"):
        ModelConfig(d_model=30, heads=4).validate()
    with pytest.raises(ModelError, match="layers"):
        BlobNet(ModelConfig(layers=0))
    assert issubclass(ModelError, ValueError) and issubclass(DeviceError, ValueError)


def test_save_load_round_trip(tmp_path, tiny):
    path = save_model(tiny, tmp_path / "sub" / "net.pt", extra={"step": 12})
    assert sorted(os.listdir(tmp_path / "sub")) == ["net.pt"]  # one file, no temporary left
    loaded = load_model(path, "cpu")
    assert isinstance(loaded, torch.jit.ScriptModule) and not loaded.training
    x = _inputs(9, seed=1)
    with torch.inference_mode():
        want_p, want_v = tiny(x)
        got_p, got_v = loaded(x)
    assert torch.equal(want_p, got_p) and torch.equal(want_v, got_v)

    info = load_model_info(path)
    assert info.format_version == model_mod.FORMAT_VERSION
    assert info.config == ModelConfig.tiny()
    assert info.extra == {"step": 12}
    assert info.id.startswith("sha256:") and len(info.id) == len("sha256:") + 16
    # saving the same weights again gives a loadable file with the same outputs
    again = save_model(loaded, tmp_path / "again.pt", config=ModelConfig.tiny())
    with torch.inference_mode():
        assert torch.equal(load_model(again)(x)[0], want_p)


def test_save_replaces_atomically(tmp_path, tiny, monkeypatch):
    path = save_model(tiny, tmp_path / "net.pt")
    before = path.read_bytes()

    def broken_save(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch.jit, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        save_model(default_model(seed=9, config=ModelConfig.tiny()), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["net.pt"]


def test_missing_and_non_model_files(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nope.pt")
    with pytest.raises(ModelError, match="not a file"):
        load_model(tmp_path)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(ModelError, match="not a TorchScript model file"):
        load_model(text)
    with pytest.raises(ModelError, match="not a TorchScript model file"):
        load_model_info(text)
    other_zip = tmp_path / "other.pt"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(ModelError, match="not a TorchScript model file"):
        load_model(other_zip)
    state_dict = tmp_path / "weights.pt"
    torch.save(default_model(config=ModelConfig.tiny()).state_dict(), state_dict)
    with pytest.raises(ModelError, match="not a TorchScript model file"):
        load_model(state_dict)


def test_truncated_model_file(tmp_path, tiny):
    path = save_model(tiny, tmp_path / "net.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="not a TorchScript model file"):
        load_model(path)


class _WrongPolicy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(256, 60)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.lin(x), torch.sigmoid(x[:, :8])


class _WrongInput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(100, 66)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.lin(x), torch.sigmoid(self.lin(x)[:, :8])


class _OneOutput(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :66]


class _NoSigmoid(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x[:, :66], x[:, :8] - 3.0


@pytest.mark.parametrize(
    ("net", "message"),
    [
        (_WrongPolicy(), r"policy of shape \(2, 60\).*expected \(2, 66\)"),
        (_WrongInput(), r"fails on a \(2, 256\)"),
        (_OneOutput(), "must return \\(policy, value\\)"),
        (_NoSigmoid(), r"outside \[0, 1\]"),
    ],
)
def test_wrong_shaped_models_are_rejected(tmp_path, net, message):
    path = save_model(net, tmp_path / "bad.pt")
    with pytest.raises(ModelError, match=message) as err:
        load_model(path)
    assert str(path) in str(err.value)


def test_newer_format_version_is_refused(tmp_path, tiny, monkeypatch):
    monkeypatch.setattr(model_mod, "FORMAT_VERSION", 99)
    path = save_model(tiny, tmp_path / "future.pt")
    monkeypatch.undo()
    with pytest.raises(ModelError, match="version 99 is newer"):
        load_model(path)
    with pytest.raises(ModelError, match="version 99 is newer"):
        load_model_info(path)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("CPU") == torch.device("cpu")
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == want
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available"):
            resolve_device("cuda")
        with pytest.raises(DeviceError, match="CUDA is not available"):
            resolve_device("cuda:1")


def test_load_model_accepts_device_names(tmp_path, tiny):
    path = save_model(tiny, tmp_path / "net.pt")
    net = load_model(path, "auto")
    assert next(net.parameters()).device.type == resolve_device("auto").type
    with pytest.raises(DeviceError):
        load_model(path, "tpu")


def _snapshot(net: nn.Module) -> list[tuple[int, torch.Tensor]]:
    return [(id(p), p.detach().clone()) for p in net.parameters()]


def _assert_untouched(net: nn.Module, before: list[tuple[int, torch.Tensor]], training: bool):
    params = list(net.parameters())
    assert [id(p) for p in params] == [i for i, _ in before]
    for p, (_, value) in zip(params, before):
        assert p.dtype == torch.float64  # dtype stands in for the device: nothing was moved
        assert torch.equal(p.detach(), value)
    assert net.training == training
    assert all(m.training == training for m in net.modules())


@pytest.mark.parametrize("scripted", [False, True], ids=["module", "scripted"])
def test_export_leaves_the_callers_network_alone(tmp_path, scripted):
    # Issue #9: scripting shares parameters, so exporting used to move (here:
    # cast) the training network's own weights and leave it in eval mode.
    net: nn.Module = BlobNet(ModelConfig.tiny()).to(torch.float64).train()
    if scripted:
        with model_mod._quiet_jit():
            net = torch.jit.script(net).train()
    before = _snapshot(net)

    path = save_model(net, tmp_path / "net.pt", config=ModelConfig.tiny())
    _assert_untouched(net, before, training=True)
    copy = script_model(net)
    _assert_untouched(net, before, training=True)
    assert not copy.training
    assert all(p.dtype == torch.float64 for p in copy.parameters())  # same dtype as the source
    assert {id(p) for p in copy.parameters()}.isdisjoint(i for i, _ in before)

    loaded = load_model(path, "cpu")
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in loaded.parameters())
    x = _inputs(5, seed=4)
    net.eval()
    with torch.inference_mode():
        want_p, want_v = net(x.double())
        got_p, got_v = loaded(x)
    assert got_p.dtype == torch.float32
    assert torch.allclose(got_p.double(), want_p, atol=1e-5)
    assert torch.allclose(got_v.double(), want_v, atol=1e-5)


def test_training_continues_after_export(tmp_path, tiny):
    # An optimizer holding the caller's parameters still trains them after an export.
    net = BlobNet(ModelConfig.tiny()).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    save_model(net, tmp_path / "a.pt")
    before = [p.detach().clone() for p in net.parameters()]
    policy, value = net(_inputs(4))
    (policy.sum() + value.sum()).backward()
    opt.step()
    assert any(not torch.equal(p.detach(), b) for p, b in zip(net.parameters(), before))
    saved = load_model(save_model(net, tmp_path / "b.pt"))
    with torch.inference_mode():
        net.eval()
        assert torch.allclose(saved(_inputs(3))[0], net(_inputs(3))[0], atol=1e-6)


def test_for_inference_copies_only_when_it_must():
    net = default_model(seed=1, config=ModelConfig.tiny())  # eval mode, on the CPU
    assert model_mod.for_inference(net, "cpu") is net
    net.train()
    before = _snapshot(net)
    ready = model_mod.for_inference(net, torch.device("cpu"))
    assert ready is not net and not ready.training and net.training
    assert [id(p) for p in net.parameters()] == [i for i, _ in before]
    x = _inputs(4)
    with torch.inference_mode():
        net.eval()
        assert torch.equal(ready(x)[1], net(x)[1])
