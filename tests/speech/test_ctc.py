"""CTC loss, greedy and prefix beam search decoding and error rates against hand-computed values."""

import math

import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.speech import ctc


def test_loss_on_a_two_frame_toy_case():
    # classes: 0 = blank, 1 = "a"; the target "a" is read from the paths a a, a -, - a:
    # p = 0.6*0.7 + 0.6*0.3 + 0.4*0.7 = 0.88
    log_probs = torch.tensor([[[0.4, 0.6], [0.3, 0.7]]]).log()  # (B=1, T=2, C=2)
    loss = ctc.ctc_loss(log_probs, [[1]], reduction="sum")
    assert loss.item() == pytest.approx(-math.log(0.88), abs=1e-6)
    padded = ctc.ctc_loss(log_probs, torch.tensor([[1, 0]]), [2], [1], reduction="sum")
    assert padded.item() == pytest.approx(-math.log(0.88), abs=1e-6)
    time_first = ctc.ctc_loss(log_probs.transpose(0, 1), [[1]], reduction="sum", batch_first=False)
    assert time_first.item() == pytest.approx(loss.item())


def test_loss_checks_its_inputs():
    log_probs = torch.randn(2, 4, 3).log_softmax(-1)
    with pytest.raises(BadInputError, match="blank"):
        ctc.ctc_loss(log_probs, [[1, 0], [2]])
    with pytest.raises(BadInputError, match="input_lengths"):
        ctc.ctc_loss(log_probs, [[1], [2]], input_lengths=[5, 4])
    with pytest.raises(BadInputError, match="batch of 2"):
        ctc.ctc_loss(log_probs, [[1]])
    with pytest.raises(BadInputError, match="outside"):
        ctc.ctc_loss(log_probs, [[1], [2]], blank=3)
    # a target longer than its input: zero (no inf), with a gradient that is finite
    lp = log_probs.clone().requires_grad_(True)
    loss = ctc.ctc_loss(lp, [[1, 2, 1, 2, 1], [2]], reduction="none")
    assert loss[0].item() == 0.0 and torch.isfinite(loss[1])


def test_loss_trains_towards_the_target():
    logits = torch.zeros(1, 6, 4, requires_grad=True)
    losses = []
    for _ in range(4):  # plain gradient descent (torch.optim's first step imports a lot)
        loss = ctc.ctc_loss(logits.log_softmax(-1), [[1, 2, 3]])
        losses.append(loss.item())
        (grad,) = torch.autograd.grad(loss, logits)
        with torch.no_grad():
            logits -= 5.0 * grad
    assert losses[-1] < losses[0] / 2
    assert ctc.greedy_decode(logits.log_softmax(-1)) == [[1, 2, 3]]


def test_collapse_and_greedy_decoding():
    assert ctc.collapse([1, 1, 0, 1, 2, 2, 0, 0]) == [1, 1, 2]
    assert ctc.collapse([3, 3, 3], blank=3) == []
    frames = torch.tensor([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    assert ctc.greedy_decode(frames.log()) == [[1, 1, 2]]
    batch = torch.stack([frames, frames.flip(0)]).log()
    assert ctc.greedy_decode(batch, lengths=[2, 5]) == [[1], [2, 1, 1]]


def test_prefix_beam_search_sums_paths_that_greedy_misses():
    # two frames of (blank 0.5, a 0.4, b 0.1): greedy reads "" (p = 0.25), but
    # p("a") = 0.4*0.4 + 0.4*0.5 + 0.5*0.4 = 0.56, p("b") = 0.01 + 0.05 + 0.05 = 0.11, p("ab") = p("ba") = 0.04
    frames = torch.tensor([[0.5, 0.4, 0.1], [0.5, 0.4, 0.1]]).log()
    assert ctc.greedy_decode(frames) == [[]]
    beams = ctc.prefix_beam_search(frames, beam_width=10)
    assert [labels for labels, _ in beams[:3]] == [[1], [], [2]]
    assert beams[0][1] == pytest.approx(math.log(0.56))
    assert beams[1][1] == pytest.approx(math.log(0.25))
    assert beams[2][1] == pytest.approx(math.log(0.11))
    total = sum(math.exp(score) for _, score in beams)
    assert total == pytest.approx(1.0)  # every path of every label sequence is counted once
    assert len(ctc.prefix_beam_search(frames, beam_width=2)) == 2


def test_repeated_labels_need_a_blank_between_them():
    # "aa" is only reachable as a - a; "a" gathers a a a, a a -, … ; 3 frames of (blank 0.2, a 0.8)
    frames = torch.tensor([[0.2, 0.8]] * 3).log()
    scores = dict((tuple(labels), s) for labels, s in ctc.prefix_beam_search(frames, beam_width=5))
    assert math.exp(scores[(1, 1)]) == pytest.approx(0.8 * 0.2 * 0.8)
    p_a = 0.8**3 + 2 * 0.8 * 0.8 * 0.2 + 0.8 * 0.2 * 0.2 * 2 + 0.2 * 0.8 * 0.2  # aaa, aa-, -aa, a--, --a, -a-
    assert math.exp(scores[(1,)]) == pytest.approx(p_a)


def test_length_normalised_scores():
    frames = torch.tensor([[0.5, 0.4, 0.1], [0.5, 0.4, 0.1]]).log()
    beams = ctc.prefix_beam_search(frames, beam_width=10, length_normalize=True)
    scores = dict((tuple(labels), s) for labels, s in beams)
    assert scores[(1, 2)] == pytest.approx(math.log(0.04) / 2)
    assert scores[()] == pytest.approx(math.log(0.25))  # the empty sequence counts as length 1


def test_edit_distance_and_error_rates():
    assert ctc.edit_distance("kitten", "sitting") == 3
    assert ctc.edit_distance([], [1, 2]) == 2
    assert ctc.cer("kitten", "sitting") == pytest.approx(3 / 6)
    assert ctc.cer("abc", "abc") == 0.0
    assert ctc.cer(["abc", "de"], ["abd", ""]) == pytest.approx(3 / 5)
    assert ctc.error_rate([["h", "ə", "l"], ["oʊ"]], [["h", "l"], ["oʊ", "oʊ"]]) == pytest.approx(2 / 4)
    with pytest.raises(BadInputError):
        ctc.cer("", "a")
    with pytest.raises(BadInputError):
        ctc.error_rate(["a"], [])
