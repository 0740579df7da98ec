"""TabDDPM: the shared model suite, plus learning, conditioning and strided sampling on tiny layouts."""

from contextlib import contextmanager

import pytest
import torch

import genlab.tabular.ddpm  # noqa: F401  (registers tabular/tab-ddpm)
from genlab.core.errors import BadInputError, ConfigError
from genlab.tabular.ddpm import TabDDPM, TabDDPMConfig
from genlab.tabular.spans import Span
from tests.tabular.model_mixin import TabularModelTesterMixin, tiny_batch, tiny_spans


@contextmanager
def one_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a busy machine they cost a lot."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TestTabDDPM(TabularModelTesterMixin):
    model_name = "tabular/tab-ddpm"
    config = {"hidden": [32], "num_timesteps": 20}
    validation_keys = {"loss", "gaussian", "multinomial"}

    def test_losses_have_both_parts(self):
        model = self.build()
        torch.manual_seed(0)
        out = model.training_losses(tiny_batch(model.spans), "denoiser")
        assert out["gaussian"] > 0 and out["multinomial"] > 0
        assert torch.allclose(out["loss"], out["gaussian"] + out["multinomial"])

    def test_strided_sampling_takes_fewer_steps_and_gives_valid_rows(self):
        model = self.build(sample_steps=4).eval()
        calls = []
        model.denoiser.register_forward_hook(lambda *_: calls.append(1))
        self.check_output(model, self.sample(model, 0))
        assert len(calls) == 4

    def test_conditions_fix_the_category_in_every_row(self):
        model = self.build().eval()
        out = model.generate_encoded(64, torch.Generator().manual_seed(0), [("c", 2), ("b", 1)])
        spans = {(s.column, s.role): s for s in model.spans}
        c, b = spans["c", "category"], spans["b", "category"]
        assert torch.all(out[:, c.start : c.stop].argmax(1) == 2) and torch.all(out[:, b.start : b.stop].argmax(1) == 1)
        free = model.generate_encoded(64, torch.Generator().manual_seed(0))
        assert not torch.all(free[:, c.start : c.stop].argmax(1) == 2)  # untrained: all classes appear

    def test_mode_encoded_layouts_work_too(self):
        """Mode blocks are one more categorical variable; bounded alphas stay in [-1, 1]."""
        spans = tiny_spans("mode")
        model = self.build(data_dim=max(s.stop for s in spans), spans=[s.to_dict() for s in spans]).eval()
        assert model.training_losses(tiny_batch(spans), "denoiser")["loss"].isfinite()
        self.check_output(model, self.sample(model, 0))

    def test_clip_denoised_bounds_the_alphas_of_a_bad_denoiser(self):
        model = self.build().eval()
        with torch.no_grad():
            model.denoiser.head.bias[:2] = -30.0  # ε̂ far off: x̂_0 = (x_t - √(1-ᾱ) ε̂)/√ᾱ explodes
        assert self.sample(model, 0)[:, [0, 7]].abs().max() <= 6.0
        model.config.clip_denoised = None
        assert self.sample(model, 0)[:, [0, 7]].abs().max() > 100

    def test_bad_conditions_are_refused(self):
        model = self.build().eval()
        with pytest.raises(BadInputError, match="not a categorical column"):
            model.generate_encoded(4, conditions=[("x", 0)])  # a numerical column
        with pytest.raises(BadInputError, match="out of range"):
            model.generate_encoded(4, conditions=[("c", 4)])
        with pytest.raises(BadInputError, match="two categories"):
            model.generate_encoded(4, conditions=[("c", 1), ("c", 2)])

    def test_bad_configs_are_refused(self):
        assert self.build(sample_steps=21).config.reverse_steps == 20  # capped at the chain's length
        short = self.build(schedule="linear")  # 20 steps: the scaled linear βs would reach 1; they are capped
        assert float(short.schedule.betas.max()) < 1 and float(short.schedule.alphas_cumprod[-1]) > 0
        with pytest.raises(ConfigError, match="no encoded columns"):
            TabDDPM(TabDDPMConfig.build({"hidden": [8]}))


# --------------------------------------------------------------------------- learning

SPANS = [
    Span("x", "alpha", "value", 0, 1, bounded=False),
    Span("c", "softmax", "category", 1, 2),
    Span("d", "softmax", "category", 3, 3),
]


#: an untrained model's config over SPANS
UNTRAINED = {"hidden": [8], "num_timesteps": 10, "data_dim": 6, "spans": [s.to_dict() for s in SPANS]}


def train_on_toy_rows(**extra) -> TabDDPM:
    """300 Adam steps on rows where c = 0 (79 %) has x ~ N(2, 0.1²), c = 1 has x ~ N(-1, 0.1²), and d = c in
    90 % of the rows (else d = 2)."""
    g = torch.Generator().manual_seed(0)
    c = (torch.rand(512, generator=g) < 0.2).long()
    x = torch.where(c == 0, 2.0, -1.0) + 0.1 * torch.randn(512, generator=g)
    d = torch.where(torch.rand(512, generator=g) < 0.9, c, 2)
    rows = torch.cat([x[:, None], torch.eye(2)[c], torch.eye(3)[d]], 1)
    config = {"hidden": [64, 64], "num_timesteps": 50, "data_dim": 6, "spans": [s.to_dict() for s in SPANS]}
    config |= {"category_counts": {"c": torch.bincount(c, minlength=2).tolist(), "d": torch.bincount(d).tolist()}}
    config |= extra
    torch.manual_seed(0)
    model = TabDDPM(TabDDPMConfig.build(config)).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    with one_thread():
        for _ in range(300):
            batch = rows[torch.randint(0, 512, (128,), generator=g)]
            opt.zero_grad()
            model.training_losses(batch, "denoiser")["loss"].backward()
            opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def trained() -> TabDDPM:
    return train_on_toy_rows()


@pytest.fixture(scope="module")
def class_conditional() -> TabDDPM:
    return train_on_toy_rows(class_column="c")


def test_samples_follow_the_training_distribution(trained):
    out = trained.generate_encoded(1000, torch.Generator().manual_seed(1))
    c, d = out[:, 1:3].argmax(1), out[:, 3:].argmax(1)
    assert abs((c == 0).float().mean().item() - 0.79) < 0.07  # 0.79: the share of c = 0 in the training rows
    x0, x1 = out[c == 0, 0], out[c == 1, 0]
    assert abs(x0.mean().item() - 2) < 0.2 and x0.std().item() < 0.4
    assert abs(x1.mean().item() + 1) < 0.4
    assert (d == c).float().mean().item() > 0.8


def test_conditioning_gives_the_conditional_distribution(trained):
    """Both the numbers and the other categories follow the rare category c = 1 (replacement alone would not)."""
    out = trained.generate_encoded(300, torch.Generator().manual_seed(2), [("c", 1)])
    assert torch.all(out[:, 2] == 1)
    assert abs(out[:, 0].mean().item() + 1) < 0.3  # the rare category's values, not the marginal's
    assert (out[:, 4] == 1).float().mean().item() > 0.65  # d = c = 1 in 90 % of the training rows with c = 1


def test_strided_sampling_of_a_trained_model_keeps_the_distribution(trained):
    steps = trained.config.sample_steps
    trained.config.sample_steps = 10
    try:
        out = trained.generate_encoded(1000, torch.Generator().manual_seed(1))
    finally:
        trained.config.sample_steps = steps
    c = out[:, 1:3].argmax(1)
    assert abs((c == 0).float().mean().item() - 0.79) < 0.07
    assert abs(out[c == 0, 0].mean().item() - 2) < 0.2 and abs(out[c == 1, 0].mean().item() + 1) < 0.4


def test_a_class_conditional_model_draws_classes_from_the_training_shares(class_conditional):
    """Unconditioned rows: c from the recorded counts (79 % c = 0), the rest of the row given it."""
    out = class_conditional.generate_encoded(1000, torch.Generator().manual_seed(1))
    c, d = out[:, 1:3].argmax(1), out[:, 3:].argmax(1)
    assert abs((c == 0).float().mean().item() - 0.79) < 0.04
    assert abs(out[c == 0, 0].mean().item() - 2) < 0.2 and abs(out[c == 1, 0].mean().item() + 1) < 0.3
    assert (d == c).float().mean().item() > 0.8
    assert not torch.all(c[:-1] <= c[1:])  # the classes' rows are shuffled together, not one after the other
    again = class_conditional.generate_encoded(1000, torch.Generator().manual_seed(1))
    assert torch.equal(out, again)


def test_a_class_conditional_model_is_told_the_class_instead_of_guided(class_conditional, monkeypatch):
    grads, real_grad = [], torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: grads.append(1) or real_grad(*a, **k))
    out = class_conditional.generate_encoded(300, torch.Generator().manual_seed(2), [("c", 1)])
    assert torch.all(out[:, 2] == 1) and abs(out[:, 0].mean().item() + 1) < 0.3
    assert (out[:, 4] == 1).float().mean().item() > 0.65
    assert not grads  # no guidance gradient when the class is the only condition
    out = class_conditional.generate_encoded(8, torch.Generator().manual_seed(2), [("c", 1), ("d", 1)])
    assert grads and torch.all(out[:, 4] == 1)  # another condition is still guided


def test_the_class_column_must_be_categorical_and_counted():
    config = dict(UNTRAINED)
    with pytest.raises(BadInputError, match="class_column 'x' is not a categorical column"):
        TabDDPM(TabDDPMConfig.build(config | {"class_column": "x"}))
    model = TabDDPM(TabDDPMConfig.build(config | {"class_column": "c"})).eval()
    with pytest.raises(BadInputError, match="no training counts"):
        model.generate_encoded(4)
    assert model.generate_encoded(4, conditions=[("c", 0)]).shape == (4, 6)  # a condition needs no counts


def test_classifier_free_guidance_needs_rows_trained_without_their_class():
    config = dict(UNTRAINED)
    config["category_counts"] = {"c": [3, 1]}
    with pytest.raises(ConfigError, match="class_guidance needs"):
        TabDDPM(TabDDPMConfig.build(config | {"class_column": "c", "class_guidance": 2.0}))
    model = TabDDPM(TabDDPMConfig.build(config | {"class_column": "c", "class_dropout": 0.5, "class_guidance": 2.0}))
    seen = []
    model.denoiser.register_forward_hook(lambda module, args, out: seen.append(args[2].clone()))
    torch.manual_seed(0)
    model.training_losses(
        torch.cat([torch.zeros(64, 1), torch.eye(2)[[0] * 64], torch.eye(3)[[1] * 64]], 1), "denoiser"
    )
    assert set(seen[0].tolist()) == {0, 2}  # class 0, or 2 = "no class" for about half the rows
    seen.clear()
    model.config.sample_steps = 3
    out = model.eval().generate_encoded(16, torch.Generator().manual_seed(0), [("c", 1)])
    assert torch.all(out[:, 2] == 1) and len(seen) == 6  # two passes a step: told the class, and not
    assert {tuple(set(y.tolist())) for y in seen} == {(1,), (2,)}


def test_guidance_scale_one_is_the_conditional_prediction_and_larger_scales_extrapolate():
    config = dict(UNTRAINED)
    model = TabDDPM(TabDDPMConfig.build(config | {"class_column": "c", "class_dropout": 0.1}))
    cond, uncond = torch.randn(4, 6), torch.randn(4, 6)
    blocks = model.multinomial
    for w in (1.0, 3.0):
        model.config.class_guidance = w
        out = model.guided_by_class(cond, uncond)
        torch.testing.assert_close(out[:, 0], uncond[:, 0] + w * (cond[:, 0] - uncond[:, 0]))
        log_c, log_u = blocks.log_softmax(cond[:, 1:]), blocks.log_softmax(uncond[:, 1:])
        torch.testing.assert_close(blocks.log_softmax(out[:, 1:]), blocks.log_softmax(log_u + w * (log_c - log_u)))
    model.config.class_guidance = 1.0
    torch.testing.assert_close(blocks.log_softmax(model.guided_by_class(cond, uncond)[:, 1:]), log_c)
