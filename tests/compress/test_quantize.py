"""int8 quantisation: which layers, outputs close to the float model's, exact round-trips through the weights file
(no unpickling), the GPT's fused int8 decoding path, and the documented refusals."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from genlab.compress.quantize import inference_layers, quantize, tied_layers
from genlab.core.errors import BadInputError, CheckpointError
from genlab.core.model import GenerativeModel
from genlab.core.quantized import int8_state, load_int8, make_int8
from genlab.core.registry import MODELS

GPT = {"vocab_size": 65, "block_size": 32, "n_layer": 2, "n_embd": 32, "n_head": 4}
DCGAN = {"image_size": 16, "latent_dim": 8, "g_width": 8, "d_width": 8}
UNET = {"image_size": 8, "conditional": True, "num_classes": 3, "base_channels": 8, "channel_mult": [1, 2],
        "attention_levels": [], "num_timesteps": 20, "sample_steps": 2}  # fmt: skip


def build(name: str, **config) -> GenerativeModel:
    import genlab.image  # noqa: F401  (registers the models)
    import genlab.text  # noqa: F401

    torch.manual_seed(0)
    cls = MODELS.get(name)
    model = cls(cls.config_class.build(config)).eval()
    with torch.no_grad():  # zero-initialised output layers would hide every difference
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def reload(model: GenerativeModel, folder) -> GenerativeModel:
    model.save_pretrained(folder)
    return GenerativeModel.from_pretrained(folder)


def test_gpt_layers_are_its_blocks_linears_and_the_tied_head_stays_float():
    gpt = build("text/gpt", **GPT)
    layers = inference_layers(gpt, (nn.Linear,))
    assert "head" in tied_layers(gpt) and "head" not in layers
    assert layers[:4] == [f"transformer.blocks.0.{n}" for n in ("attn.qkv", "attn.proj", "mlp.fc", "mlp.proj")]
    assert len(layers) == 4 * GPT["n_layer"]


def test_a_gans_discriminator_is_not_in_its_inference_path():
    gan = build("image/dcgan", **DCGAN)
    layers = inference_layers(gan, (nn.Linear, nn.ConvTranspose2d, nn.Conv2d))
    assert layers and all(n.startswith("generator.") for n in layers)


def test_dynamic_int8_gpt_is_close_and_round_trips_exactly(tmp_path):
    gpt = build("text/gpt", **GPT)
    q = copy.deepcopy(gpt)
    chosen = quantize(q, "int8-dynamic")
    ids = torch.randint(65, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want, got = gpt.logits(ids), q.logits(ids)
    assert (got - want).abs().max() < 0.1 * want.abs().max() and not torch.equal(got, want)
    back = reload(q, tmp_path / "m")
    assert back.quantization == {"scheme": "int8-dynamic", "layers": chosen["layers"]}
    with torch.no_grad():
        assert torch.equal(back.logits(ids), got)
    size = (tmp_path / "m" / "model.safetensors").stat().st_size
    gpt.save_pretrained(tmp_path / "f")
    assert size < 0.6 * (tmp_path / "f" / "model.safetensors").stat().st_size


def test_the_fused_one_token_path_runs_int8_layers_and_matches_the_general_path():
    q = build("text/gpt", **GPT)
    quantize(q, "int8-dynamic")
    general = copy.deepcopy(q)
    general.transformer._plain = lambda: False  # force the module-by-module path
    ids = torch.tensor([[1], [2]])
    with torch.no_grad():
        fast_state, slow_state = q.init_state(2), general.init_state(2)
        for _ in range(12):
            fast, fast_state = q.step(ids, fast_state)
            slow, slow_state = general.step(ids, slow_state)
            assert (fast - slow).abs().max() < 1e-4
            ids = fast.argmax(-1, keepdim=True)
    assert fast_state.layer_params  # the fused path ran


def test_static_int8_dcgan_is_close_and_round_trips_exactly(tmp_path):
    gan = build("image/dcgan", **DCGAN)
    q = copy.deepcopy(gan)
    chosen = quantize(q, "int8-static", calibration=64, all_layers=True)
    assert chosen["layers"][0] == "generator.project" and len(chosen["layers"]) == 3  # 16 px: 2 upsamplings
    z = torch.randn(16, DCGAN["latent_dim"], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = gan.decode(z), q.decode(z)
    assert (got - want).abs().mean() < 0.05
    back = reload(q, tmp_path / "m")
    with torch.no_grad():
        assert torch.equal(back.decode(z), got)


def test_static_int8_keeps_only_the_layers_it_speeds_up():
    q = build("image/dcgan", **DCGAN)
    try:
        chosen = quantize(q, "int8-static", calibration=64)
    except BadInputError as e:  # on a CPU where no layer is faster, nothing is written
        assert "no layer" in e.message
        return
    timed = {t["layer"]: t for t in chosen["timings"]}
    assert set(chosen["layers"]) == {n for n, t in timed.items() if t["int8"]}
    for name, t in timed.items():
        assert t["int8"] == (t["int8_ms"] < 0.9 * t["float_ms"] and t["relative_error"] < 0.1)
        kind = type(q.get_submodule(name)).__name__
        assert (kind == "QuantWrapper") == t["int8"], name  # the others are float layers again


def test_static_int8_unet_round_trips(tmp_path):
    unet = build("image/ddpm", **UNET)
    q = copy.deepcopy(unet)
    quantize(q, "int8-static", calibration=8, all_layers=True)
    x, t, y = torch.randn(3, 1, 8, 8), torch.tensor([1.0, 5.0, 10.0]), torch.tensor([0, 1, 2])
    with torch.no_grad():
        got = q.unet(x, t, y)
        assert (got - unet.unet(x, t, y)).abs().mean() < 0.1 * unet.unet(x, t, y).abs().mean()
        assert torch.equal(reload(q, tmp_path / "m").unet(x, t, y), got)


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 8, batch_first=True)
        self.gru = nn.GRU(8, 8, batch_first=True)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(self.gru(self.lstm(x)[0])[0])


def test_int8_lstm_and_gru_rebuild_from_their_float_weights():
    torch.manual_seed(0)
    model = Recurrent().eval()
    x = torch.randn(2, 5, 6)
    want = model(x)
    q = make_int8(copy.deepcopy(model), "int8-dynamic", ["lstm", "gru", "out"])
    state = int8_state(q)
    assert all(isinstance(v, torch.Tensor) for v in state.values()) and "lstm.weight_ih_l0" in state
    fresh = Recurrent().eval()  # other random weights: everything must come from the file
    load_int8(fresh, q.quantization, state)
    with torch.no_grad():
        got = q(x)
        assert torch.equal(fresh(x), got) and (got - want).abs().max() < 0.05


def test_refusals():
    gpt = build("text/gpt", **GPT)
    with pytest.raises(BadInputError, match="int8-static needs a model that draws images"):
        quantize(copy.deepcopy(gpt), "int8-static")
    with pytest.raises(BadInputError, match="unknown quantisation"):
        quantize(copy.deepcopy(gpt), "int4")
    with pytest.raises(CheckpointError, match="no layers named"):
        make_int8(copy.deepcopy(gpt), "int8-dynamic", ["transformer.nope"])
    q = make_int8(copy.deepcopy(gpt), "int8-dynamic", ["transformer.blocks.0.attn.qkv"])
    state = int8_state(q)
    state.pop("transformer.blocks.0.attn.qkv.weight.int8")
    with pytest.raises(CheckpointError, match="no entry"):
        load_int8(build("text/gpt", **GPT), q.quantization, state)
