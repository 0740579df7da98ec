"""Multinomial diffusion on plain one-hot blocks, checked against explicit transition matrices."""

import pytest
import torch

from genlab.nn.diffusion.multinomial import MultinomialDiffusion, log_onehot
from genlab.nn.diffusion.schedules import NoiseSchedule

BLOCKS = [3, 1, 2]  # three variables: K = 3, a constant (K = 1) and K = 2


def onehot_rows(n: int, seed: int = 0, blocks=BLOCKS) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.eye(k)[torch.randint(0, k, (n,), generator=g)] for k in blocks], 1)


def block_sums(x: torch.Tensor, blocks=BLOCKS) -> torch.Tensor:
    return torch.stack([part.sum(1) for part in x.split(blocks, 1)], 1)


def step_matrix(beta: float, k: int) -> torch.Tensor:
    """Q[i, j] = q(x_t = j | x_{t-1} = i) = (1 - β) δ_ij + β / K."""
    return (1 - beta) * torch.eye(k, dtype=torch.float64) + beta / k


def chain(betas: torch.Tensor, k: int, start: int, stop: int) -> torch.Tensor:
    """Product of the step matrices of steps start+1 … stop: q(x_stop | x_start) (start = -1: from x_0)."""
    q = torch.eye(k, dtype=torch.float64)
    for t in range(start + 1, stop + 1):
        q = q @ step_matrix(float(betas[t]), k)
    return q


def test_marginal_rows_are_distributions_and_end_uniform():
    diff = MultinomialDiffusion(NoiseSchedule(1000, "cosine"), BLOCKS)
    x0 = onehot_rows(8)
    assert torch.equal(diff.q_sample(x0, -1), x0)  # t = -1 is clean data
    for t in (0, 10, 500, 999):
        probs = diff.q_log_probs(log_onehot(x0), t).exp()
        assert torch.allclose(block_sums(probs), torch.ones(8, len(BLOCKS)), atol=1e-6), t
    end = diff.q_log_probs(log_onehot(x0), 999).exp()
    uniform = torch.cat([torch.full((8, k), 1 / k) for k in BLOCKS], 1)
    assert torch.allclose(end, uniform, atol=1e-6)
    assert diff.kl_prior(log_onehot(x0)).abs().max() < 1e-5
    linear = MultinomialDiffusion(NoiseSchedule(1000, "linear"), BLOCKS)
    assert torch.allclose(linear.q_log_probs(log_onehot(x0), 999).exp(), uniform, atol=1e-4)


def test_marginals_and_strided_steps_match_the_product_of_step_matrices():
    sched = NoiseSchedule(8, "cosine")
    k = 3
    diff = MultinomialDiffusion(sched, [k])
    eye = torch.eye(k)
    for t in range(8):
        assert torch.allclose(diff.q_log_probs(log_onehot(eye), t).exp().double(), chain(sched.betas, k, -1, t))
    for s, t in [(-1, 0), (0, 1), (1, 5), (-1, 7), (3, 3)]:
        got = diff.step_log_probs(log_onehot(eye), s, t).exp().double()
        assert torch.allclose(got, chain(sched.betas, k, s, t), atol=1e-6), (s, t)


def test_posterior_matches_bayes_rule_on_a_tiny_chain():
    """q(x_s = i | x_t = j, x_0 = c) = Q̄_s[c, i] Q_{s→t}[i, j] / Q̄_t[c, j], also for strided s < t - 1."""
    sched = NoiseSchedule(6, "cosine")
    blocks = [3, 2]
    diff = MultinomialDiffusion(sched, blocks)
    for s, t in [(-1, 0), (0, 1), (2, 3), (4, 5), (0, 4), (-1, 5)]:
        for b, k in enumerate(blocks):
            q0s, qst, q0t = chain(sched.betas, k, -1, s), chain(sched.betas, k, s, t), chain(sched.betas, k, -1, t)
            for c in range(k):
                for j in range(k):
                    expected = q0s[c] * qst[:, j] / q0t[c, j]  # over i
                    x0, xt = onehot_rows(1, blocks=blocks), onehot_rows(1, seed=1, blocks=blocks)
                    x0[0, sum(blocks[:b]) : sum(blocks[: b + 1])] = torch.eye(k)[c]
                    xt[0, sum(blocks[:b]) : sum(blocks[: b + 1])] = torch.eye(k)[j]
                    post = diff.posterior_log_probs(log_onehot(x0), log_onehot(xt), t, s).exp()[0]
                    got = post[sum(blocks[:b]) : sum(blocks[: b + 1])].double()
                    assert torch.allclose(got, expected, atol=1e-5), (s, t, b, c, j)


def test_sample_draws_one_class_per_block_with_the_given_frequencies():
    diff = MultinomialDiffusion(NoiseSchedule(10), BLOCKS)
    probs = torch.tensor([0.7, 0.2, 0.1, 1.0, 0.25, 0.75])
    log_probs = probs.log()[None].expand(20000, -1)
    x = diff.sample(log_probs, torch.Generator().manual_seed(0))
    assert torch.all((x == 0) | (x == 1)) and torch.all(block_sums(x) == 1)
    assert torch.allclose(x.mean(0), probs, atol=0.015)
    again = diff.sample(log_probs[:50], torch.Generator().manual_seed(3))
    assert torch.equal(again, diff.sample(log_probs[:50], torch.Generator().manual_seed(3)))


def test_loss_terms_vanish_for_a_perfect_prediction_and_grow_for_a_wrong_one():
    diff = MultinomialDiffusion(NoiseSchedule(20, "cosine"), BLOCKS)
    x0 = onehot_rows(64)
    t = torch.arange(64) % 20  # every time, t = 0 included
    g = torch.Generator().manual_seed(0)
    log_xt = log_onehot(diff.q_sample(x0, t, g))
    perfect = diff.loss_terms(log_onehot(x0), log_onehot(x0), log_xt, t)
    assert perfect.abs().max() < 1e-4
    wrong = diff.log_softmax(-5 * x0)  # the other classes favoured
    bad = diff.loss_terms(log_onehot(x0), wrong, log_xt, t)
    assert torch.all(bad >= -1e-6) and bad[t == 0].min() > 1.0 and bad.mean() > 0.1


def test_blockwise_log_softmax_normalises_each_block_and_passes_gradients():
    diff = MultinomialDiffusion(NoiseSchedule(10), BLOCKS)
    logits = torch.randn(5, sum(BLOCKS), requires_grad=True)
    log_p = diff.log_softmax(logits)
    assert torch.allclose(block_sums(log_p.exp()), torch.ones(5, 3), atol=1e-6)
    assert log_p[:, 3].abs().max() < 1e-6  # the K = 1 block is certain
    log_p[:, 0].sum().backward()
    assert logits.grad[:, :3].abs().sum() > 0 and logits.grad[:, 3:].abs().sum() == 0


def test_block_logsumexp_equals_torch_per_block_with_large_and_infinite_values():
    diff = MultinomialDiffusion(NoiseSchedule(10), BLOCKS)
    x = (100 * torch.randn(4, sum(BLOCKS), dtype=torch.float64)).requires_grad_(True)
    x_inf = x.detach().clone()
    x_inf[0, :3] = float("-inf")  # a whole block impossible
    x_inf[1, 0] = float("-inf")
    for rows in (x, x_inf):
        expected = torch.cat([torch.logsumexp(p, 1, keepdim=True).expand_as(p) for p in rows.split(BLOCKS, 1)], 1)
        torch.testing.assert_close(diff.block_logsumexp(rows), expected)
    expected_grad = torch.autograd.grad(
        sum(torch.logsumexp(p, 1).sum() * (i + 1) for i, p in enumerate(x.split(BLOCKS, 1))), x
    )[0]
    weights = torch.tensor([1.0, 1, 1, 2, 3, 3], dtype=torch.float64) / torch.tensor([3.0, 3, 3, 1, 2, 2])
    got = torch.autograd.grad((diff.block_logsumexp(x) * weights).sum(), x)[0]  # each block's value once
    torch.testing.assert_close(got, expected_grad)


def test_invalid_class_counts_are_refused():
    with pytest.raises(ValueError):
        MultinomialDiffusion(NoiseSchedule(10), [])
    with pytest.raises(ValueError):
        MultinomialDiffusion(NoiseSchedule(10), [3, 0])
