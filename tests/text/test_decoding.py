"""Decoding pieces on fixed logits, seeded sampling, beam search on a toy model with a known best sequence."""

import math

import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.text.decoding import RepetitionPenalty, SamplingConfig, Temperature, TopK, TopP, beam_search, sample_tokens

LOGITS = torch.log(torch.tensor([[0.5, 0.25, 0.15, 0.07, 0.03]]))
NO_IDS = torch.zeros(1, 0, dtype=torch.long)


def kept(logits):
    return torch.isfinite(logits[0]).nonzero().flatten().tolist()


def test_temperature_scales_logits():
    out = Temperature(0.5)(NO_IDS, LOGITS)
    assert torch.allclose(out, LOGITS * 2)
    assert out.softmax(-1)[0, 0] > LOGITS.softmax(-1)[0, 0]
    with pytest.raises(BadInputError):
        Temperature(0)


def test_top_k_keeps_the_k_best():
    assert kept(TopK(2)(NO_IDS, LOGITS)) == [0, 1]
    assert kept(TopK(99)(NO_IDS, LOGITS)) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("p", "expected"), [(0.5, [0]), (0.6, [0, 1]), (0.75, [0, 1]), (0.8, [0, 1, 2]), (1.0, [0, 1, 2, 3, 4])]
)
def test_top_p_keeps_the_smallest_nucleus(p, expected):
    assert kept(TopP(p)(NO_IDS, LOGITS)) == expected


def test_top_p_works_on_unsorted_rows():
    logits = torch.log(torch.tensor([[0.1, 0.6, 0.3], [0.3, 0.1, 0.6]]))
    out = TopP(0.85)(torch.zeros(2, 0, dtype=torch.long), logits)
    assert torch.isfinite(out).tolist() == [[False, True, True], [True, False, True]]


def test_repetition_penalty_lowers_seen_tokens_only():
    logits = torch.tensor([[2.0, -1.0, 3.0, 0.5]])
    out = RepetitionPenalty(2.0)(torch.tensor([[0, 1, 1]]), logits)
    assert out.tolist() == [[1.0, -2.0, 3.0, 0.5]]


def test_processor_order_and_greedy():
    cfg = SamplingConfig(temperature=0.7, top_k=5, top_p=0.9, repetition_penalty=1.2)
    names = [type(p).__name__ for p in cfg.processors()]
    assert names == ["RepetitionPenalty", "Temperature", "TopK", "TopP"]
    assert SamplingConfig(temperature=0).greedy and "Temperature" not in str(SamplingConfig(0).processors())


class ToyMarkov:
    """A first-order model with a fixed transition table: greedy and beam search disagree on it.

    From <s> (0): A (1) 0.6, B (2) 0.4. From A: C (3) 0.3, D (4) 0.3, A 0.2, B 0.2. From B: C 0.95.
    Best 2-token continuation: B C (0.38), while greedy takes A then C (0.18).
    """

    max_context = None

    def __init__(self):
        table = torch.full((5, 5), 1e-6)
        table[0, 1], table[0, 2] = 0.6, 0.4
        table[1, 3], table[1, 4], table[1, 1], table[1, 2] = 0.3, 0.3, 0.2, 0.2
        table[2, 3] = 0.95
        table[2, 4] = 0.05
        table[3, 0] = table[4, 0] = 1.0
        self.log_table = (table / table.sum(1, keepdim=True)).log()

    def eval(self):
        return self

    def init_state(self, batch, use_cache=True):
        return None

    def step(self, ids, state):
        return self.log_table[ids[:, -1]], None

    def reorder_state(self, state, index):
        return None


def test_beam_search_finds_the_known_best_sequence():
    toy, prompt = ToyMarkov(), torch.tensor([[0]])
    greedy = [int(t) for t in sample_tokens(toy, prompt, 2, greedy=True)]
    assert greedy[0] == 1  # greedy commits to A
    best, score = beam_search(toy, prompt, num_beams=2, max_new_tokens=2)[0]
    assert best == [2, 3] and score == pytest.approx(math.log(0.38), abs=1e-3)
    assert beam_search(toy, prompt, num_beams=1, max_new_tokens=2)[0][0][0] == 1  # width 1 is greedy


def test_beam_search_stops_finished_hypotheses():
    toy = ToyMarkov()
    hyps = beam_search(toy, torch.tensor([[0]]), 3, 6, is_finished=lambda ids: ids[-1] == 3)
    assert hyps[0][0] == [2, 3] and all(h[-1] == 3 or len(h) == 6 for h, _ in hyps)


@pytest.mark.parametrize("length_penalty", [0.0, 0.6, 1.0, 2.0, -0.5])
def test_beam_search_stops_early_only_when_nothing_can_change(length_penalty):
    chain = ToyMarkov()
    # a random Markov chain over 6 tokens instead of the hand-made one; token 5 ends a hypothesis
    chain.log_table = torch.log_softmax(torch.randn(6, 6, generator=torch.Generator().manual_seed(0)) * 3, -1)
    for beams in (1, 2, 4):
        args = (chain, torch.tensor([[0]]), beams, 12, (), lambda ids: ids[-1] == 5, length_penalty)
        fast, full = beam_search(*args), beam_search(*args, early_stop=False)
        assert [h for h, _ in fast] == [h for h, _ in full][: len(fast)] and len(fast) == len(full)
        assert [s for _, s in fast] == pytest.approx([s for _, s in full])


def test_seeded_sampling_is_reproducible():
    toy, prompt = ToyMarkov(), torch.zeros(4, 1, dtype=torch.long)

    def draw(seed):
        g = torch.Generator().manual_seed(seed)
        return torch.stack(list(sample_tokens(toy, prompt, 12, generator=g)))

    assert torch.equal(draw(3), draw(3)) and not torch.equal(draw(3), draw(4))


def test_empty_prompt_is_refused():
    with pytest.raises(BadInputError, match="empty"):
        next(sample_tokens(ToyMarkov(), torch.zeros(1, 0, dtype=torch.long), 3))


def test_small_cached_models_decode_on_one_cpu_thread():
    from genlab.text.decoding import decode_threads

    model = torch.nn.Linear(4, 4)
    assert decode_threads(model, use_cache=True) == 1
    assert decode_threads(model, use_cache=False) is None


def test_thread_count_is_restored_after_decoding():
    from genlab.core.devices import cpu_threads

    before = torch.get_num_threads()
    with cpu_threads(before + 1):
        assert torch.get_num_threads() == before + 1
    assert torch.get_num_threads() == before


def test_sampling_draws_like_torch_multinomial():
    """``choose`` runs multinomial's exponential race itself: same seed, same tokens."""
    from genlab.text.decoding import choose

    ours, ref = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for _ in range(50):
        logits = torch.randn(4, 30) * 3
        expected = torch.multinomial(logits.softmax(-1), 1, generator=ref).squeeze(1)
        assert torch.equal(choose(logits, False, ours), expected)


def test_sampling_refuses_an_undefined_distribution():
    from genlab.text.decoding import choose

    with pytest.raises(BadInputError, match="undefined"):
        choose(torch.full((1, 5), float("-inf")), False, None)
    with pytest.raises(BadInputError, match="undefined"):
        choose(torch.tensor([[0.0, float("nan")]]), False, None)
