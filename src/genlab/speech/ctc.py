"""Connectionist temporal classification (Graves et al. 2006): the loss, decoding and error rates.

A CTC recogniser outputs, for each of ``T`` frames, log-probabilities over ``C`` classes, one of which is the
*blank* (id 0 by default, as ``<pad>`` of :class:`~genlab.speech.text.PhonemeVocabulary`). A label sequence is
read from a frame path by merging repeated classes and then removing blanks (``a a - b b`` → ``a b``).

* :func:`ctc_loss` — :func:`torch.nn.functional.ctc_loss` with its inputs checked (shapes, lengths, the blank).
* :func:`greedy_decode` — the best class of each frame, collapsed.
* :func:`prefix_beam_search` — the most probable label sequences, summing over all their frame paths.
* :func:`edit_distance`, :func:`error_rate`, :func:`cer` — Levenshtein distance and character / phoneme error
  rates (errors over reference length) that measure how intelligible synthesised speech is.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from genlab.core.errors import BadInputError


def _as_lengths(lengths, batch: int, limit: int, name: str) -> torch.Tensor:
    lengths = torch.as_tensor(lengths, dtype=torch.long).reshape(-1)
    if lengths.numel() != batch:
        raise BadInputError(f"{name} has {lengths.numel()} entries for a batch of {batch}")
    if (lengths < 0).any() or (lengths > limit).any():
        raise BadInputError(f"{name} must lie in 0..{limit}, got {lengths.tolist()}")
    return lengths


def _pad_targets(targets) -> tuple[torch.Tensor, torch.Tensor]:
    """A list of label sequences → ``(padded (B, S) long tensor, lengths (B,))``."""
    rows = [torch.as_tensor(t, dtype=torch.long).reshape(-1) for t in targets]
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    padded = torch.zeros(len(rows), int(lengths.max()) if rows else 0, dtype=torch.long)
    for i, r in enumerate(rows):
        padded[i, : len(r)] = r
    return padded, lengths


def ctc_loss(
    log_probs: torch.Tensor,
    targets: torch.Tensor | Sequence[Sequence[int]],
    input_lengths: torch.Tensor | Sequence[int] | None = None,
    target_lengths: torch.Tensor | Sequence[int] | None = None,
    blank: int = 0,
    reduction: str = "mean",
    batch_first: bool = True,
    zero_infinity: bool = True,
) -> torch.Tensor:
    """CTC loss (negative log-likelihood of the targets, in nats).

    ``log_probs``: log-softmax outputs, (B, T, C) (or (T, B, C) with ``batch_first=False``). ``targets``: a
    padded (B, S) tensor with ``target_lengths``, or a list of label sequences (lengths then come from it).
    ``input_lengths``: valid frames per item (default: all ``T``). ``reduction``: ``"mean"`` (PyTorch's: each
    item's loss divided by its target length, then averaged), ``"sum"`` or ``"none"``. ``zero_infinity`` gives
    0 (and no gradient) for targets too long for their input instead of ``inf``. Targets may not contain
    ``blank``; wrong shapes or lengths raise :class:`BadInputError`.
    """
    if log_probs.dim() != 3:
        raise BadInputError(f"log_probs must be (B, T, C), got shape {tuple(log_probs.shape)}")
    if batch_first:
        log_probs = log_probs.transpose(0, 1)  # (B, T, C) -> (T, B, C), as F.ctc_loss wants
    frames, batch, classes = log_probs.shape
    if not 0 <= blank < classes:
        raise BadInputError(f"blank index {blank} is outside the {classes} classes")
    if not isinstance(targets, torch.Tensor):
        targets, lengths = _pad_targets(targets)
        target_lengths = lengths if target_lengths is None else target_lengths
    elif targets.dim() != 2:
        raise BadInputError(f"targets must be a padded (B, S) tensor, got shape {tuple(targets.shape)}")
    if targets.shape[0] != batch:
        raise BadInputError(f"{targets.shape[0]} target sequences for a batch of {batch}")
    if target_lengths is None:
        target_lengths = [targets.shape[1]] * batch
    target_lengths = _as_lengths(target_lengths, batch, targets.shape[1], "target_lengths")
    input_lengths = _as_lengths([frames] * batch if input_lengths is None else input_lengths, batch, frames,
                                "input_lengths")  # fmt: skip
    for i, n in enumerate(target_lengths.tolist()):
        labels = targets[i, :n]
        if ((labels == blank) | (labels < 0) | (labels >= classes)).any():
            raise BadInputError(
                f"target {i} holds the blank ({blank}) or a class outside 0..{classes - 1}: {labels.tolist()}",
                "labels of CTC targets are the non-blank classes",
            )
    return F.ctc_loss(log_probs, targets.long(), input_lengths, target_lengths, blank, reduction, zero_infinity)


def collapse(path: Sequence[int], blank: int = 0) -> list[int]:
    """A frame path read as labels: repeats merged, then blanks removed (``[1, 1, 0, 1, 2]`` → ``[1, 1, 2]``)."""
    out, previous = [], None
    for c in path:
        c = int(c)
        if c != previous and c != blank:
            out.append(c)
        previous = c
    return out


def _frames(log_probs: torch.Tensor) -> torch.Tensor:
    if log_probs.dim() == 2:
        return log_probs.unsqueeze(0)
    if log_probs.dim() != 3:
        raise BadInputError(f"log_probs must be (T, C) or (B, T, C), got shape {tuple(log_probs.shape)}")
    return log_probs


def greedy_decode(
    log_probs: torch.Tensor, lengths: Sequence[int] | torch.Tensor | None = None, blank: int = 0
) -> list[list[int]]:
    """Best-path decoding of (T, C) or (B, T, C) scores: the best class per frame, collapsed; one label list per
    item (``lengths``: valid frames of each)."""
    scores = _frames(log_probs)
    best = scores.argmax(-1)  # (B, T)
    lengths = _as_lengths([best.shape[1]] * best.shape[0] if lengths is None else lengths, best.shape[0],
                          best.shape[1], "lengths")  # fmt: skip
    return [collapse(best[i, : int(n)].tolist(), blank) for i, n in enumerate(lengths)]


def _logsumexp(*values: float) -> float:
    top = max(values)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(v - top) for v in values))


def prefix_beam_search(
    log_probs: torch.Tensor,
    beam_width: int = 8,
    blank: int = 0,
    length_normalize: bool = False,
    prune: float | None = None,
) -> list[tuple[list[int], float]]:
    """CTC prefix beam search over one utterance's (T, C) log-probabilities.

    Keeps the ``beam_width`` most probable label prefixes, each with the log-probability of all frame paths that
    end in a blank and of those that end in its last label, so paths that read the same add up. Returns up to
    ``beam_width`` ``(labels, score)`` pairs, best first; the score is the log-probability of the labels, or,
    with ``length_normalize``, that divided by the number of labels (at least 1), which favours longer
    sequences. ``prune``: skip classes whose frame log-probability is below it (e.g. ``-10``) for speed.
    """
    if log_probs.dim() != 2:
        raise BadInputError(f"log_probs must be (T, C) for one utterance, got shape {tuple(log_probs.shape)}")
    if beam_width < 1:
        raise BadInputError(f"beam_width must be at least 1, got {beam_width}")
    frames = log_probs.detach().double().cpu().tolist()
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}  # prefix -> (ends blank, ends label)
    for row in frames:
        nxt: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        for prefix, (p_blank, p_label) in beams.items():
            total = _logsumexp(p_blank, p_label)
            for c, p in enumerate(row):
                if prune is not None and p < prune:
                    continue
                if c == blank:
                    entry = nxt[prefix]
                    entry[0] = _logsumexp(entry[0], total + p)
                    continue
                last = prefix[-1] if prefix else None
                extended = nxt[(*prefix, c)]
                if c == last:  # a repeat extends only paths separated by a blank; otherwise it merges
                    extended[1] = _logsumexp(extended[1], p_blank + p)
                    same = nxt[prefix]
                    same[1] = _logsumexp(same[1], p_label + p)
                else:
                    extended[1] = _logsumexp(extended[1], total + p)
        ranked = sorted(nxt.items(), key=lambda kv: _logsumexp(*kv[1]), reverse=True)[:beam_width]
        beams = {prefix: (pb, pl) for prefix, (pb, pl) in ranked}
    scored = []
    for prefix, (pb, pl) in beams.items():
        score = _logsumexp(pb, pl)
        scored.append((list(prefix), score / max(len(prefix), 1) if length_normalize else score))
    return sorted(scored, key=lambda item: item[1], reverse=True)


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
    """Levenshtein distance: the fewest substitutions, insertions and deletions turning one into the other."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        current = [i]
        for j, h in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def error_rate(references: Sequence[Sequence], hypotheses: Sequence[Sequence]) -> float:
    """Total edit distance over total reference length, across a corpus of pairs (phoneme error rate when the
    items are phoneme lists, word error rate for word lists). Can exceed 1 (many insertions)."""
    if len(references) != len(hypotheses):
        raise BadInputError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    total = sum(len(r) for r in references)
    if total == 0:
        raise BadInputError("the references are empty", "an error rate needs at least one reference symbol")
    return sum(edit_distance(r, h) for r, h in zip(references, hypotheses, strict=True)) / total


def cer(reference: str | Sequence[str], hypothesis: str | Sequence[str]) -> float:
    """Character error rate of one string pair, or of two equally long lists of strings (corpus level)."""
    if isinstance(reference, str) != isinstance(hypothesis, str):
        raise BadInputError("pass two strings or two lists of strings")
    if isinstance(reference, str):
        return error_rate([reference], [hypothesis])
    return error_rate(list(reference), list(hypothesis))
