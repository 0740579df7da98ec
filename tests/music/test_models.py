"""The music models (transformer, LSTM, Markov, MusicVAE): the shared model suite on hand-made 4-voice pieces,
``token_nll`` and ``sample_ids`` shapes, the padded loss, the Markov order choice and the VAE's latent uses."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pytest
import torch

from genlab.music import markov, models, vae  # noqa: F401  (registers the models)
from genlab.music.notes import Note, Piece
from genlab.music.task import MusicSequences
from genlab.music.tokenizers import REMITokenizer
from tests.model_mixin import ModelTesterMixin

TOKENIZER = REMITokenizer(pitch_range=(36, 84), max_duration=4.0, max_beats=4)
CHORDS = [(60, 55, 52, 48), (62, 57, 53, 50), (64, 59, 55, 52), (65, 60, 57, 53), (67, 62, 59, 55)]


def chorale(shift: int = 0, bars: int = 2) -> Piece:
    """A tiny four-voice piece: one chord of :data:`CHORDS` per beat, soprano moving, lower voices held."""
    notes = []
    for beat in range(4 * bars):
        chord = CHORDS[(beat + shift) % len(CHORDS)]
        for voice, pitch in enumerate(chord):
            notes.append(Note(pitch + shift, float(beat), 1.0, 80, voice))
    return Piece(notes, key="C major", title=f"chorale {shift}")


PIECES = [chorale(s) for s in range(-2, 4)]


def rows(pieces: list[Piece]) -> list[list[int]]:
    return [TOKENIZER.encode(p) for p in pieces]


def padded(pieces: list[Piece]) -> torch.Tensor:
    return MusicSequences(rows(pieces), TOKENIZER.pad_id).rows


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class MusicModelTesterMixin(ModelTesterMixin):
    """Music hooks: the REMI tokenizer, batches of padded pieces, sampled token rows as outputs."""

    validation_keys: ClassVar[set[str] | None] = {"loss"}
    size_key: ClassVar[str] = "block_size"
    new_tokens: ClassVar[int] = 16

    def build(self, **overrides: Any):
        length = padded(PIECES).shape[1]
        values = {"vocab_size": TOKENIZER.vocab_size, "tokenizer": TOKENIZER.to_dict(), self.size_key: length}
        return super().build(**{**values, **overrides})

    def batch(self, model) -> torch.Tensor:
        return padded(PIECES[:4])

    def sample(self, model, seed: int) -> list[list[int]]:
        return model.sample_ids(2, self.new_tokens, generator=torch.Generator().manual_seed(seed))

    def check_output(self, model, out: list[list[int]]) -> None:
        assert len(out) == 2
        for row in out:
            assert row[0] == TOKENIZER.bos_id and 1 < len(row) <= 1 + self.new_tokens
            assert all(isinstance(t, int) and 0 <= t < TOKENIZER.vocab_size for t in row)
            assert TOKENIZER.eos_id not in row and TOKENIZER.pad_id not in row

    def fit_data(self, model):
        return MusicSequences(rows(PIECES[:4]), TOKENIZER.pad_id), MusicSequences(rows(PIECES[4:]), TOKENIZER.pad_id)

    # --- music-only checks ---------------------------------------------------------------------------
    def test_token_nll_is_the_summed_loss_and_ignores_padding(self):
        model = self.trained_a_little(self.build())
        batch = self.batch(model)
        nll = model.token_nll(batch)
        assert nll.shape == (len(batch),) and torch.isfinite(nll).all() and (nll > 0).all()
        wider = torch.cat([batch, torch.full((len(batch), 3), TOKENIZER.pad_id)], dim=1)
        if hasattr(model.config, "block_size"):
            model.config.block_size += 3
        torch.testing.assert_close(model.token_nll(wider), nll)

    def test_a_prefix_is_kept_and_continued(self):
        model = self.fitted(self.build())
        prefix = [TOKENIZER.bos_id, *TOKENIZER.condition_ids(key="G major", tempo=90)]
        out = model.sample_ids(3, 8, torch.Generator().manual_seed(0), 0.8, prefix)
        assert len(out) == 3 and all(r[: len(prefix)] == prefix and len(r) <= len(prefix) + 8 for r in out)

    def test_a_corpus_key_prior_draws_each_unconditioned_key_from_key_counts(self):
        if "key_prior" not in self.build().config_class.model_fields:
            pytest.skip("this model samples phrases, not a key token")
        counts = {"Key_G major": 3, "Key_F major": 1}
        model = self.fitted(self.build(key_prior="corpus", key_counts=counts))
        out = model.sample_ids(40, 6, torch.Generator().manual_seed(0))
        keys = [row[1] for row in out]
        assert set(keys) == {TOKENIZER.id_of(k) for k in counts}  # both drawn, nothing else
        assert keys.count(TOKENIZER.id_of("Key_G major")) > keys.count(TOKENIZER.id_of("Key_F major"))
        assert all(row[0] == TOKENIZER.bos_id and len(row) <= 1 + 6 for row in out)  # the key is one of the tokens
        assert model.sample_ids(40, 6, torch.Generator().manual_seed(0)) == out
        prefix = [TOKENIZER.bos_id, *TOKENIZER.condition_ids(key="D major")]
        given = model.sample_ids(3, 4, torch.Generator().manual_seed(0), prefix_ids=prefix)
        assert all(row[: len(prefix)] == prefix for row in given)  # a prompt's own key is kept
        model.config.key_prior = "model"
        assert model.prior_keys(4) is None

    def test_bad_sampling_requests_are_refused(self):
        from genlab.core.errors import BadInputError

        model = self.fitted(self.build())
        for kwargs in ({"n": -1, "max_tokens": 4}, {"n": 1, "max_tokens": 0}, {"n": 1, "max_tokens": 4,
                                                                                "temperature": 0.0}):  # fmt: skip
            with pytest.raises(BadInputError):
                model.sample_ids(**kwargs)


LM = {"dropout": 0.0, "lr": 3e-3, "warmup_steps": 0}


class TestMusicTransformer(MusicModelTesterMixin):
    model_name = "music/transformer"
    config: ClassVar[dict[str, Any]] = {"n_layer": 1, "n_head": 2, "n_embd": 16, **LM}

    def test_long_rows_are_scored_in_overlapping_windows(self):
        model = self.trained_a_little(self.build())
        batch = self.batch(model)[:2]
        full = model.token_nll(batch)
        model.config.block_size = batch.shape[1] // 3  # forces windows; early tokens keep their full context
        windowed = model.token_nll(batch)
        assert windowed.shape == full.shape and torch.isfinite(windowed).all()
        assert not torch.allclose(windowed, full)  # later tokens see less history


class TestMusicLSTM(MusicModelTesterMixin):
    model_name = "music/lstm"
    config: ClassVar[dict[str, Any]] = {"n_layer": 1, "n_embd": 8, "hidden_size": 16, **LM}


class TestMusicMarkov(MusicModelTesterMixin):
    model_name = "music/markov"
    config: ClassVar[dict[str, Any]] = {"max_order": 4}

    def test_the_order_is_chosen_on_validation(self):
        model = self.build()
        metrics = model.fit(*self.fit_data(model))
        losses = {k: metrics[f"val_loss_order_{k}"] for k in range(1, 5)}
        assert model.config.order == min(losses, key=losses.get) == metrics["order"]
        assert model.config.table_sizes and len(model.config.table_sizes) == model.config.order
        assert losses[model.config.order] < losses[1]  # structure beats unigram counts


class TestMusicVAE(MusicModelTesterMixin):
    model_name = "music/music-vae"
    config: ClassVar[dict[str, Any]] = {"latent_dim": 4, "embedding_dim": 8, "encoder_hidden": 8, "encoder_layers": 1,
                                        "decoder_hidden": 16, "decoder_layers": 1, "kl_warmup_steps": 0,
                                        "free_bits": 0.0, "word_dropout": 0.0}  # fmt: skip
    validation_keys = {"loss", "reconstruction", "kl", "token_accuracy"}
    size_key = "max_length"
    new_tokens = 20

    def test_encode_decode_interpolate_and_attribute_vectors(self):
        model = self.trained_a_little(self.build(), steps=5)
        z = model.encode(PIECES[:3])
        assert z.shape == (3, 4) and torch.isfinite(z).all()
        decoded = model.decode(z, greedy=True)
        assert len(decoded) == 3 and all(isinstance(p, Piece) for p in decoded)
        walk = model.interpolate(PIECES[0], PIECES[3], steps=4)
        assert len(walk) == 4
        sparse = [Piece([n for n in p.notes if n.voice == 0], key="C major") for p in PIECES]
        vector = model.attribute_vector(PIECES, sparse)
        torch.testing.assert_close(vector, model.encode(PIECES).mean(0) - model.encode(sparse).mean(0))
        assert vae.note_density(PIECES[0]) == 16.0  # 32 notes over 2 bars

    def test_slerp_keeps_the_ends_and_the_norm_of_equal_vectors(self):
        a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
        torch.testing.assert_close(vae.slerp(a, b, 0.0), a)
        torch.testing.assert_close(vae.slerp(a, b, 1.0), b)
        assert vae.slerp(a, b, 0.5).norm().item() == pytest.approx(1.0)
        torch.testing.assert_close(vae.slerp(a, 2 * a, 0.5), 1.5 * a)

    def test_phrases_are_chained_to_the_requested_count(self):
        model = self.fitted(self.build())
        out = model.sample_ids(2, 10_000, torch.Generator().manual_seed(0), phrases=2)
        single = model.sample_ids(2, 10_000, torch.Generator().manual_seed(0), phrases=1)
        assert all(len(a) >= len(b) for a, b in zip(out, single, strict=True))

    def test_the_kl_term_warms_up(self):
        model = self.build(kl_warmup_steps=10, beta=1.0)
        assert model.kl_weight() == 0.0
        model.step_count.fill_(5)
        assert model.kl_weight() == pytest.approx(0.5)
        assert math.isclose(self.build(kl_warmup_steps=0, beta=0.3).kl_weight(), 0.3)
