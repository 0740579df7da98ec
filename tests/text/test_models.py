"""Language models: the shared model suite for each, then weight tying, scoring, n-gram probabilities, streaming."""

import math

import numpy as np
import pytest
import torch

from genlab.text.pipelines import TextGenerationPipeline

from .helpers import ENGLISH, TINY, Stream, tiny_model
from .model_mixin import TextModelTesterMixin


class TestGPT(TextModelTesterMixin):
    model_name = "text/gpt"
    config = {**TINY["text/gpt"], "lr": 1e-2}
    optimizer_steps = 10
    min_loss_drop = 0.3


class TestCharRNN(TextModelTesterMixin):
    model_name = "text/char-rnn"
    config = {**TINY["text/char-rnn"], "lr": 1e-2}
    optimizer_steps = 10
    min_loss_drop = 0.3


class TestKneserNey(TextModelTesterMixin):
    model_name = "text/ngram"
    config = TINY["text/ngram"]


def fitted_ngram(order=3):
    model = tiny_model("text/ngram", order=order)
    model.fit(Stream(model.tokenizer.encode(ENGLISH)))
    return model


def test_gpt_greedy_text_is_identical_with_and_without_cache():
    model = tiny_model("text/gpt", block_size=64)
    pipe = TextGenerationPipeline(model)
    assert pipe("ROMEO:", 40, temperature=0) == pipe("ROMEO:", 40, temperature=0, use_cache=False)


def test_gpt_ties_embedding_and_output_weights():
    model = tiny_model("text/gpt")
    assert model.head.weight is model.tok_emb.weight
    assert model.num_parameters() == sum(p.numel() for p in set(model.parameters()))


def test_sequence_nll_matches_cross_entropy_of_windows():
    model = tiny_model("text/gpt", block_size=8)
    ids = torch.tensor(model.tokenizer.encode(ENGLISH[:40]))
    nll, count = model.sequence_nll(ids)
    assert count == len(ids) - 1  # windows share their edge id, so every id after the first is predicted once
    window = ids[:9][None]
    with torch.no_grad():
        first = torch.nn.functional.cross_entropy(model.logits(window[:, :-1])[0], window[0, 1:], reduction="sum")
    assert nll > float(first) > 0


def test_ngram_distributions_sum_to_one_and_beat_uniform():
    model = fitted_ngram(order=4)
    for history in ([], [3], model.tokenizer.encode("ROMEO"), [0, 0, 0]):
        p = model.distribution(history)
        assert p.shape == (model.config.vocab_size,) and p.sum() == pytest.approx(1.0) and (p > 0).all()
    ids = model.tokenizer.encode(ENGLISH)
    nll, count = model.sequence_nll(ids)
    assert count == len(ids) - 1 and nll / count < 0.5 * math.log(model.config.vocab_size)


def test_ngram_vectorised_scoring_matches_step_by_step_probabilities():
    model = fitted_ngram(order=3)
    ids = model.tokenizer.encode("But soft, what light")
    nll, _ = model.sequence_nll(ids)
    step = -sum(np.log(model.distribution(ids[:t])[ids[t]]) for t in range(1, len(ids)))
    assert nll == pytest.approx(step, rel=1e-9)


def test_ngram_is_fitted_in_closed_form():
    from genlab.text.ngram import KneserNeyLM

    assert KneserNeyLM.fits_in_closed_form and tiny_model("text/ngram").max_context == 2


def test_an_empty_prompt_works_without_a_line_break_in_the_vocabulary():
    model = tiny_model("text/gpt", text="abcabcabd")
    texts = TextGenerationPipeline(model)("", max_new_tokens=5, seed=0)
    assert len(texts[0]) == 5 and set(texts[0]) <= set("abcd")


@pytest.mark.parametrize("stop", [[], ["e"], ["th", "\n"]])
def test_streamed_pieces_join_to_the_generated_text(stop):
    pipe = TextGenerationPipeline(tiny_model("text/gpt", block_size=64))
    pieces = list(pipe.stream("ROMEO:", max_new_tokens=40, seed=3, stop=stop))
    assert "".join(pieces) == pipe("ROMEO:", max_new_tokens=40, seed=3, stop=stop)[0]
    assert len(pieces) > 1 or stop
    for s in stop:
        assert s not in "".join(pieces)
