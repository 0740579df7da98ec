"""Property-guided molecule optimisation under a budget of oracle calls.

Two methods, chosen by the model:

* **latent Bayesian optimisation** (a ``molecule/mol-vae`` run; Gómez-Bombarelli et al. 2018, section "Bayesian
  optimization of drug-like molecules"): an initial design of training molecules is encoded to their posterior
  means and scored; then, round after round, a Gaussian process (:mod:`genlab.molecule.gp`) is fitted to the
  ``gp_points`` scored latents nearest the best one, a batch of latents maximising expected improvement inside a
  trust region around the best (TuRBO-style: the box doubles after 3 improving rounds in a row and halves after
  ``failure_tolerance`` rounds without improvement, Eriksson et al. 2019) is decoded greedily, and the new
  molecules are scored. A latent whose greedy decoding is already known is decoded again by sampling
  (temperature 0.7) to reach a new neighbour.
* **policy-gradient fine-tuning** of a molecule language model (char-RNN, SMILES/SELFIES GPT): REINFORCE (Williams
  1992) on batches sampled from the model, with the reward of a molecule ``R = objective − kl_coef · (log π(x) −
  log π_prior(x))`` — the KL penalty to the frozen pre-trained model is the anchor of REINVENT (Olivecrona et al.
  2017, "Molecular de-novo design through deep reinforcement learning"), written here as KL-regularised policy
  gradient rather than REINVENT's squared augmented-likelihood loss — minus a batch-mean baseline, normalised by
  the batch standard deviation. Diversity term: a molecule already scored in this run (a repeat) or an invalid
  string gets the worst score seen so far instead of its score, so the policy is pushed away from what it has
  already found.

**Oracle calls.** One oracle call is one evaluation of the objective on a distinct valid molecule (distinct by
RDKit canonical SMILES) within the run. Invalid strings and repeats of an already-scored molecule cost nothing
and are not in the trace; the initial design of latent BO counts. The run stops after exactly ``budget`` calls
(or earlier when 50 rounds of BO, or 50 batches of policy gradient, in a row bring nothing new); every call's
SMILES, score, method step and seconds are kept in the trace.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from genlab.molecule.objectives import Objective

COUNTING_RULE = (
    "one oracle call = one objective evaluation of a distinct valid molecule (RDKit canonical SMILES) in the run; "
    "invalid strings and repeats are free; the initial design counts"
)


@dataclass
class OracleCall:
    """One evaluation: its 1-based index, the canonical SMILES, the score, what proposed it and when."""

    call: int
    smiles: str
    score: float
    source: str
    seconds: float


@dataclass
class Oracle:
    """Scores molecules with an objective and counts calls (see the module docstring); stops at ``budget``."""

    objective: Objective
    budget: int
    scores: dict[str, float] = field(default_factory=dict)
    trace: list[OracleCall] = field(default_factory=list)
    invalid: int = 0
    repeats: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def remaining(self) -> int:
        return self.budget - len(self.trace)

    @property
    def best(self) -> float:
        return max(self.scores.values()) if self.scores else -math.inf

    @property
    def worst(self) -> float:
        return min(self.scores.values()) if self.scores else 0.0

    def __call__(self, smiles: list[str], source: str) -> list[tuple[str | None, float | None, bool]]:
        """For each string: (canonical SMILES or None, score or None, whether it was a new call).

        Invalid strings give (None, None, False); repeats give their cached score with False; a new molecule
        beyond the budget gives (canonical, None, False)."""
        from genlab.molecule import chem

        out = []
        for s in smiles:
            mol = chem.parse_smiles(s) if s else None
            if mol is None:
                self.invalid += 1
                out.append((None, None, False))
                continue
            can = chem.mol_to_smiles(mol)
            if can in self.scores:
                self.repeats += 1
                out.append((can, self.scores[can], False))
                continue
            if self.remaining <= 0:
                out.append((can, None, False))
                continue
            score = float(self.objective(mol))
            self.scores[can] = score
            self.trace.append(OracleCall(len(self.trace) + 1, can, score, source, time.perf_counter() - self.started))
            out.append((can, score, True))
        return out

    def top(self, k: int) -> list[tuple[str, float]]:
        """The ``k`` best (SMILES, score) pairs, best first."""
        return sorted(self.scores.items(), key=lambda kv: -kv[1])[:k]


def curve(trace: list[OracleCall], every: int = 10) -> list[dict[str, float]]:
    """Best and top-10 mean score after every ``every`` oracle calls (and after the last one)."""
    import heapq

    points, top10, best = [], [], -math.inf
    for c in trace:
        best = max(best, c.score)
        if len(top10) < 10:
            heapq.heappush(top10, c.score)
        elif c.score > top10[0]:
            heapq.heapreplace(top10, c.score)
        if c.call % every == 0 or c.call == len(trace):
            points.append({"oracle_calls": c.call, "best": best, "top10_mean": sum(top10) / len(top10)})
    return points


@dataclass
class BOSettings:
    """Settings of latent Bayesian optimisation (see the module docstring)."""

    n_init: int = 200
    batch_size: int = 20
    gp_points: int = 300
    fit_steps: int = 60
    trust_length: float = 1.6
    min_length: float = 0.1
    max_length: float = 6.4
    failure_tolerance: int = 4
    max_rounds: int = 10_000
    max_idle_rounds: int = 50


def latent_bo(
    model,
    oracle: Oracle,
    init_smiles: list[str],
    settings: BOSettings,
    seed: int,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run latent BO with a mol-vae ``model`` until the oracle's budget is spent; returns a summary of the run.

    ``init_smiles``: molecules to draw the initial design from (``n_init`` of them at random, seeded); when
    empty, the initial design is decoded from prior samples z ~ N(0, I).
    """
    from genlab.molecule.gp import GaussianProcess, maximize_ei

    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    model.eval()
    xs: list[torch.Tensor] = []
    ys: list[float] = []
    n_init = min(settings.n_init, oracle.budget)
    if init_smiles:
        pool = rng.sample(init_smiles, min(len(init_smiles), 4 * n_init))
        z, kept = model.encode_smiles(pool)
        for row, i in zip(z, kept, strict=True):
            if oracle.remaining <= 0 or len(oracle.trace) >= n_init:
                break
            ((_, score, new),) = oracle([pool[i]], "init")
            if new:
                xs.append(row)
                ys.append(score)
    while len(oracle.trace) < n_init and oracle.remaining > 0:  # prior samples fill what the data did not
        z = model.sample_latent(n_init, gen)
        before = len(oracle.trace)
        for row, (_, score, new) in zip(z, oracle(model.decode_smiles(z), "init"), strict=True):
            if new and len(oracle.trace) <= n_init:
                xs.append(row)
                ys.append(score)
        if len(oracle.trace) == before:
            break
    length, successes, failures, rounds, idle = settings.trust_length, 0, 0, 0, 0
    gp = GaussianProcess("matern52")
    while oracle.remaining > 0 and rounds < settings.max_rounds and xs:
        rounds += 1
        x, y = torch.stack(xs).double(), torch.tensor(ys, dtype=torch.float64)
        center = x[int(y.argmax())]
        near = torch.cdist(center.unsqueeze(0), x)[0].argsort()[: settings.gp_points]
        gp.fit(x[near], y[near], steps=settings.fit_steps if rounds == 1 else settings.fit_steps // 2, warm_start=True)
        ls = gp.hyper.lengthscale
        weights = ls / ls.log().mean().exp()  # TuRBO: box sides ∝ length-scales, volume fixed by `length`
        half = (0.5 * length * weights).clamp(max=length)
        proposals = maximize_ei(gp, center, half, float(y.max()), q=settings.batch_size, generator=gen, bounds=5.0)
        best_before = oracle.best
        smiles = model.decode_smiles(proposals.float())
        results = oracle(smiles, f"bo-{rounds}")
        retry = [i for i, (can, score, new) in enumerate(results) if score is not None and not new]
        if retry and oracle.remaining > 0:  # known molecule: look for a new neighbour by sampling the decoder
            again = oracle(model.decode_smiles(proposals[retry].float(), 0.7, gen), f"bo-{rounds}")
            for j, i in enumerate(retry):
                if again[j][2]:
                    results[i] = again[j]
        new_count = 0
        for row, (_, score, new) in zip(proposals, results, strict=True):
            if score is not None:
                xs.append(row.float())
                ys.append(score)
                new_count += int(new)
        idle = idle + 1 if new_count == 0 else 0
        if oracle.best > best_before + 1e-9:
            successes, failures = successes + 1, 0
        else:
            successes, failures = 0, failures + 1
        if successes >= 3:
            length, successes = min(2 * length, settings.max_length), 0
        if failures >= settings.failure_tolerance:
            length, failures = length / 2, 0
        if idle >= settings.max_idle_rounds:  # nothing new for many rounds, restarts included: stop
            break
        if length < settings.min_length or (idle and idle % 5 == 0):  # restart the trust region
            length = settings.trust_length
        if log and rounds % 10 == 0:
            log(f"round {rounds}: {len(oracle.trace)} calls, best {oracle.best:.4f}, trust length {length:.2f}")
    return {"rounds": rounds, "final_trust_length": length, "stopped_idle": idle >= settings.max_idle_rounds}


@dataclass
class RLSettings:
    """Settings of policy-gradient fine-tuning (see the module docstring)."""

    batch_size: int = 64
    lr: float = 5e-4
    kl_coef: float = 0.05
    temperature: float = 1.0
    max_steps: int = 10_000


def sample_sequences(
    model, n: int, max_tokens: int, temperature: float, generator: torch.Generator | None
) -> torch.Tensor:
    """``n`` token sequences (n, 1 + L) starting with ``<bos>`` sampled from a molecule language model's ``step``;
    each row ends at its first ``<eos>``, then ``<pad>``."""
    tok = model.tokenizer
    device = model.device
    ids = torch.full((n, 1), tok.bos_id, dtype=torch.long, device=device)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    state = model.init_state(n)
    feed = ids
    with torch.no_grad():
        for _ in range(max_tokens):
            logits, state = model.step(feed, state)
            logits = logits.float()
            logits[:, [tok.pad_id, tok.bos_id]] = -torch.inf
            probs = torch.softmax(logits / temperature, dim=1).cpu()
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1).to(device)
            nxt = nxt.masked_fill(done, tok.pad_id)
            ids = torch.cat([ids, nxt.unsqueeze(1)], dim=1)
            done |= nxt == tok.eos_id
            if bool(done.all()):
                break
            feed = nxt.unsqueeze(1)
    return ids


def sequence_log_prob(model, ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """log π(x) (n,) of sequences ``ids`` (n, 1 + L) under a language model: Σ log p(token | prefix) over the
    tokens after ``<bos>`` up to and including ``<eos>`` (padding left out)."""
    logits = model.logits(ids[:, :-1]).float()
    logp = torch.log_softmax(logits, dim=-1).gather(2, ids[:, 1:].unsqueeze(2)).squeeze(2)
    return (logp * (ids[:, 1:] != pad_id)).sum(1)


def policy_gradient(
    model,
    oracle: Oracle,
    settings: RLSettings,
    seed: int,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fine-tune a copy of the language model ``model`` by REINFORCE until the oracle's budget is spent."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    prior = model.eval()
    # the policy stays in eval mode (no dropout): it is scored exactly as it samples; gradients flow all the same
    agent = copy.deepcopy(model).eval()
    opt = torch.optim.Adam(agent.parameters(), lr=settings.lr)
    tok = model.tokenizer
    max_tokens = _max_tokens(model)
    steps, idle = 0, 0
    while oracle.remaining > 0 and steps < settings.max_steps:
        steps += 1
        ids = sample_sequences(agent, settings.batch_size, max_tokens, settings.temperature, gen)
        ended = (ids == tok.eos_id).any(1).tolist()  # a row that never wrote <eos> is an invalid molecule
        smiles = [tok.decode_smiles(row) if end else "" for row, end in zip(ids[:, 1:].tolist(), ended, strict=True)]
        results = oracle(smiles, f"rl-{steps}")
        worst = oracle.worst
        reward = torch.tensor([score if new else worst for _, score, new in results], dtype=torch.float32)
        idle = idle + 1 if not any(new for *_, new in results) else 0
        logp = sequence_log_prob(agent, ids.to(agent.device), tok.pad_id)
        with torch.no_grad():
            logp_prior = sequence_log_prob(prior, ids.to(prior.device), tok.pad_id).to(logp.device)
        shaped = reward.to(logp.device) - settings.kl_coef * (logp.detach() - logp_prior)
        advantage = (shaped - shaped.mean()) / (shaped.std() + 1e-6)
        loss = -(advantage * logp).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(agent.parameters(), 1.0)
        opt.step()
        if log and steps % 5 == 0:
            log(f"step {steps}: {len(oracle.trace)} calls, best {oracle.best:.4f}, mean reward {reward.mean():.3f}")
        if idle >= 50:  # the policy only repeats itself: stop rather than loop
            break
    return {"steps": steps, "stopped_idle": idle >= 50}


def _max_tokens(model) -> int:
    """Most tokens to sample: the model's context (block_size) less the <bos>, or 120 for unbounded RNNs."""
    block = getattr(model.config, "block_size", None) or getattr(model.config, "max_length", None)
    return max(int(block) - 1, 8) if block else 120
