"""Base config and class of the tabular generators.

Every tabular model is a :class:`TabularModel`. The neural ones (TVAE, CTGAN, TabDDPM) read and write
the *encoded* matrix of :mod:`genlab.tabular.transform` (float rows of width ``data_dim`` laid out in
``spans``, :mod:`genlab.tabular.spans`); a training batch is a float tensor (B, data_dim). The fitted
table transformer travels inside the config (``transformer``, JSON), so a saved model decodes its own
rows back into a table and nothing is unpickled. Closed-form models (the Gaussian copula, independent
marginals) fit the table directly.

Anomaly scores: :meth:`TabularModel.score_rows` gives each row's negative log-likelihood in nats (models with
``can_score``: the copula, independent marginals, TVAE; :mod:`genlab.tabular.likelihood`).

Generation: :meth:`TabularModel.generate_encoded` gives encoded rows; :meth:`TabularModel.sample_table`
decodes them into a ``pandas.DataFrame``. Conditions on categorical values (``sex = Female``) are passed
to models that condition natively (``conditions_natively``: CTGAN's conditional vector); every other
condition is met by rejection in :mod:`genlab.tabular.sampling`.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel, ModelConfig
from genlab.tabular.spans import Span, spans_from_dicts

TASK = "tabular-synthesis"

#: A condition a model can apply natively: (column name, index of the category within the column's span).
CategoryCondition = tuple[str, int]


class TabularModelConfig(ModelConfig):
    """Fields every tabular model has; the task fills ``data_dim``, ``spans`` and ``transformer`` from the data."""

    data_dim: int = Field(0, ge=0, description="width of an encoded row (set from the data)")
    spans: list[dict[str, Any]] = Field(default_factory=list, description="encoded column spans (set from the data)")
    transformer: dict[str, Any] = Field(
        default_factory=dict, description="the fitted table transformer, as JSON (set from the data)"
    )
    constraints: dict[str, Any] = Field(
        default_factory=dict, description="the table's constraints, fitted on the training rows (set from the data)"
    )
    category_counts: dict[str, list[int]] = Field(
        default_factory=dict,
        description="training rows per category of every categorical column, missing last (set from the data)",
    )


class TabularModel(GenerativeModel):
    """A generator of table rows. Subclasses set ``numerical_encoding`` (how the transformer encodes numbers
    for them) and implement :meth:`generate_encoded` (neural models) or :meth:`sample_table` (closed form)."""

    task: ClassVar[str] = TASK
    config: TabularModelConfig
    #: how numerical columns are encoded for this model: "mode" (variational-GMM mode-specific normalisation,
    #: CTGAN/TVAE) or "quantile" (a quantile transform to a standard normal, TabDDPM)
    numerical_encoding: ClassVar[Literal["mode", "quantile"]] = "mode"
    #: True when a quantile-encoded column's dominant value gets its own span (TableTransformer's ``spikes``)
    numerical_spikes: ClassVar[bool] = False
    #: True when :meth:`generate_encoded` honours ``conditions`` (else the sampler rejects rows)
    conditions_natively: ClassVar[bool] = False
    #: rows per training batch unless the user sets one (CTGAN's and TVAE's 500)
    default_batch_size: ClassVar[int] = 500
    #: True when :meth:`score_rows` gives the rows' negative log-likelihood (anomaly scores)
    can_score: ClassVar[bool] = False

    def __init__(self, config: TabularModelConfig):
        super().__init__(config)
        self._transformer = None
        self.spans: list[Span] = spans_from_dicts(config.spans)

    @property
    def transformer(self):
        """The fitted :class:`~genlab.tabular.transform.TableTransformer` recorded in the config (built once)."""
        if self._transformer is None:
            from genlab.tabular.transform import TableTransformer

            self._transformer = TableTransformer.from_dict(self.config.transformer)
        return self._transformer

    def rows_of(self, batch: Any) -> torch.Tensor:
        """The encoded rows (B, data_dim) of a batch given as a tensor or as a sequence whose first item is one."""
        rows = batch[0] if isinstance(batch, (list, tuple)) else batch
        data_dim = self.config.data_dim
        if not isinstance(rows, torch.Tensor) or rows.dim() != 2 or rows.shape[1] != data_dim or rows.shape[0] == 0:
            shape = tuple(rows.shape) if isinstance(rows, torch.Tensor) else type(rows).__name__
            raise BadInputError(
                f"expected a batch of encoded rows (B, {data_dim}), got {shape}",
                "pass rows encoded by the model's own table transformer",
            )
        return rows.float()

    @property
    def device(self) -> torch.device:
        first = next(itertools.chain(self.parameters(), self.buffers()), None)
        return first.device if first is not None else torch.device("cpu")

    def generate_encoded(
        self,
        n: int,
        generator: torch.Generator | None = None,
        conditions: list[CategoryCondition] | None = None,
    ) -> torch.Tensor:
        """``n`` encoded rows (n, data_dim) on the CPU, drawn with ``generator``; ``conditions`` are honoured
        only when :attr:`conditions_natively` (else ignored: the caller rejects)."""
        raise NotImplementedError

    def score_rows(self, table, samples: int = 16, generator: torch.Generator | None = None) -> np.ndarray:
        """Anomaly scores of the rows of ``table`` (a ``pandas.DataFrame`` in the model's columns): float64 (n,),
        each the row's negative log-likelihood under the model in nats — higher is less likely, so more
        anomalous. What the likelihood is depends on the model (its ``score_rows``; docs/anomaly.md, "Tables").
        ``samples`` and ``generator``: importance samples per row and their random draws (TVAE); unused by
        closed-form models. Models that cannot score (``can_score`` False) raise BadInputError naming those
        that can."""
        from genlab.tabular.likelihood import scoring_models

        names = ", ".join(scoring_models())
        raise BadInputError(
            f"{self.registry_name or type(self).__name__} cannot score rows: it has no likelihood to evaluate",
            f"fit a model that can (--model {names.replace(', ', ' | ')}) and score with it",
        )

    @torch.no_grad()
    def sample_table(self, n: int, generator: torch.Generator | None = None, conditions=None):
        """``n`` rows as a ``pandas.DataFrame`` in the training table's columns and types."""
        was_training = self.training
        self.eval()
        try:
            encoded = self.generate_encoded(n, generator, conditions)
        finally:
            self.train(was_training)
        return self.transformer.inverse_transform(encoded.detach().cpu().numpy())
