"""``molecule/mol-vae``: a recurrent variational autoencoder of molecule strings with a property predictor on the
latent (Gómez-Bombarelli et al. 2018, "Automatic Chemical Design Using a Data-Driven Continuous Representation of
Molecules", ACS Cent. Sci. 4, 268).

* Encoder: token embeddings → a bidirectional GRU over the molecule's tokens ``[bos] … [eos]`` → the mean μ and
  log-variance log σ² of a Gaussian posterior q(z | x) of ``latent_dim`` dimensions (56, as in the paper).
* Decoder: a GRU whose initial state is a linear map of z and whose input at every step is the previous token's
  embedding concatenated with z; trained with teacher forcing on the molecule's own tokens. Word dropout
  (Bowman et al. 2016, "Generating Sentences from a Continuous Space") replaces a fraction of the teacher-forced
  inputs by ``<pad>`` so the decoder has to read z.
* Property predictor: an MLP from z to the molecule's QED, Crippen logP and SA score, each standardised by running
  statistics of the training molecules (kept in the weights), trained jointly as in the paper (which predicts
  QED, logP and SAS) so that the latent space is organised by the properties.

Loss per molecule (batch mean): ``reconstruction + β(step) · KL_free + property_weight · MSE`` where the
reconstruction is the summed token cross-entropy of the molecule (nats), β rises linearly from 0 to ``beta`` over
``kl_warmup_steps`` training steps (KL annealing, Bowman et al. 2016) and KL_free = Σ_d max(λ, KL_d) with KL_d the
batch-mean KL of latent dimension d (free bits, Kingma et al. 2016, "Improved Variational Inference with Inverse
Autoregressive Flow"): a dimension whose KL is below λ nats is not pushed further to the prior, which with the
annealing keeps the posterior from collapsing. The reported ``kl`` is the true KL.

Tokens are SELFIES by default (Krenn et al. 2020): every decoded SELFIES string is a valid molecule, which a latent
optimiser needs. Sampling decodes z ~ N(0, I).
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec, register_model
from genlab.molecule.tokenizers import BOS_ID, EOS_ID, PAD_ID, MoleculeTokenizer, tokenizer_from_dict

#: the properties the latent predictor learns, in order
PREDICTED_PROPERTIES = ("qed", "logp", "sa")


class MolVAEConfig(ModelConfig):
    """Sizes of the molecular VAE and the weights of its loss terms."""

    vocab_size: int = Field(0, ge=0, description="number of token ids (set from the tokenizer)")
    max_length: int = Field(80, ge=3, le=1024, description="most tokens of a molecule, <bos> and <eos> included")
    tokenizer: dict[str, Any] = Field(default_factory=dict, description="the tokenizer, as JSON (set from the data)")
    latent_dim: int = Field(56, ge=1, le=1024, description="size of the latent code z")
    embedding_dim: int = Field(64, ge=4, le=1024, description="token embedding size")
    encoder_hidden: int = Field(256, ge=4, le=4096, description="hidden size of each direction of the encoder GRU")
    decoder_hidden: int = Field(384, ge=4, le=4096, description="hidden size of the decoder GRU")
    decoder_layers: int = Field(2, ge=1, le=6, description="layers of the decoder GRU")
    predictor_hidden: int = Field(128, ge=4, le=4096, description="hidden width of the property predictor MLP")
    beta: float = Field(1.0, ge=0, description="final weight of the KL term")
    kl_warmup_steps: int = Field(2000, ge=0, description="training steps over which β rises linearly from 0")
    free_bits: float = Field(0.05, ge=0, description="λ: nats per latent dimension below which KL is not penalised")
    word_dropout: float = Field(0.1, ge=0, lt=1, description="fraction of teacher-forced inputs replaced by <pad>")
    property_weight: float = Field(1.0, ge=0, description="weight of the property-prediction MSE (0: no predictor)")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")


@register_model("molecule/mol-vae")
class MolVAE(GenerativeModel):
    """GRU encoder → Gaussian latent → GRU decoder over SELFIES/SMILES tokens, with a latent property predictor."""

    config_class: ClassVar[type[MolVAEConfig]] = MolVAEConfig
    task: ClassVar[str] = "molecules"
    description: ClassVar[str] = "molecular VAE with a latent property predictor (Gómez-Bombarelli et al. 2018)"
    #: the notation the model reads; the task builds that tokenizer from the data
    tokenizer_kind: ClassVar[str] = "selfies"
    config: MolVAEConfig

    def __init__(self, config: MolVAEConfig):
        super().__init__(config)
        c = config
        v = max(c.vocab_size, 3)
        self.embedding = nn.Embedding(v, c.embedding_dim, padding_idx=PAD_ID)
        self.encoder = nn.GRU(c.embedding_dim, c.encoder_hidden, batch_first=True, bidirectional=True)
        self.to_posterior = nn.Linear(2 * c.encoder_hidden, 2 * c.latent_dim)  # -> [μ, log σ²]
        self.to_hidden = nn.Linear(c.latent_dim, c.decoder_layers * c.decoder_hidden)
        self.decoder = nn.GRU(c.embedding_dim + c.latent_dim, c.decoder_hidden, c.decoder_layers, batch_first=True)
        self.head = nn.Linear(c.decoder_hidden, v)
        n_props = len(PREDICTED_PROPERTIES)
        self.predictor = nn.Sequential(
            nn.Linear(c.latent_dim, c.predictor_hidden),
            nn.ReLU(),
            nn.Linear(c.predictor_hidden, c.predictor_hidden),
            nn.ReLU(),
            nn.Linear(c.predictor_hidden, n_props),
        )
        # running statistics of the training molecules' properties (Welford), saved with the weights
        self.register_buffer("property_count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("property_mean", torch.zeros(n_props, dtype=torch.float64))
        self.register_buffer("property_m2", torch.zeros(n_props, dtype=torch.float64))
        self.register_buffer("step_count", torch.zeros((), dtype=torch.long))
        self._tokenizer: MoleculeTokenizer | None = None
        self._property_cache: dict[str, tuple[float, ...] | None] = {}

    # --- helpers --------------------------------------------------------------------
    @property
    def tokenizer(self) -> MoleculeTokenizer:
        """The tokenizer recorded in the config (built once)."""
        if self._tokenizer is None:
            self._tokenizer = tokenizer_from_dict(self.config.tokenizer)
        return self._tokenizer

    @property
    def device(self) -> torch.device:
        return next(itertools.chain(self.parameters(), self.buffers())).device

    def ids_of(self, batch: Any) -> torch.Tensor:
        """The (B, T) ids ``[bos] tokens [eos] pad…`` of a batch (a tensor, or a tuple/dict holding it)."""
        if isinstance(batch, dict):
            batch = batch.get("ids", next(iter(batch.values())))
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        if not isinstance(batch, torch.Tensor) or batch.dim() != 2:
            raise BadInputError("mol-vae batches are (B, T) tensors of token ids", "train through genlab's task")
        return batch.long().to(self.device)

    def tokenize(self, smiles: list[str]) -> tuple[torch.Tensor, list[int]]:
        """Pad the token ids of ``smiles`` to a (N, T) tensor; returns it and the indices of the molecules kept
        (those the tokenizer cannot write or longer than ``max_length`` are left out)."""
        rows, kept = [], []
        for i, s in enumerate(smiles):
            try:
                ids = self.tokenizer.encode_smiles(s)
            except BadInputError:
                continue
            if len(ids) <= self.config.max_length:
                rows.append(ids)
                kept.append(i)
        if not rows:
            return torch.zeros(0, 2, dtype=torch.long), kept
        width = max(len(r) for r in rows)
        out = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.tensor(r)
        return out, kept

    # --- networks -------------------------------------------------------------------
    def encode_ids(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance, each (B, latent_dim), of (B, T) padded ids."""
        lengths = (ids != PAD_ID).sum(1).clamp_min(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        _, h = self.encoder(packed)  # (2, B, H): last states of the forward and backward directions
        mu, logvar = self.to_posterior(torch.cat([h[0], h[1]], dim=1)).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def initial_state(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder GRU state (layers, B, H) from z (B, latent_dim)."""
        c = self.config
        return (
            torch.tanh(self.to_hidden(z)).view(len(z), c.decoder_layers, c.decoder_hidden).transpose(0, 1).contiguous()
        )

    def decoder_logits(self, z: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Teacher-forced next-token logits (B, T, V) from z (B, D) and input ids (B, T)."""
        emb = self.embedding(inputs)
        x = torch.cat([emb, z.unsqueeze(1).expand(-1, inputs.shape[1], -1)], dim=2)
        out, _ = self.decoder(x, self.initial_state(z))
        return self.head(out)

    # --- properties -------------------------------------------------------------------
    def batch_properties(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw properties (B, 3) of the molecules written by ``ids`` and a mask (B,) of those that parse.

        Computed with RDKit once per distinct string and cached on the model (not saved)."""
        from genlab.molecule import chem

        values, mask = [], []
        for row in ids.tolist():
            text = self.tokenizer.decode(row)
            if text not in self._property_cache:
                mol = chem.parse_smiles(self.tokenizer.to_smiles(text))
                self._property_cache[text] = (
                    None if mol is None else (chem.qed(mol), chem.logp(mol), chem.sa_score(mol))
                )
            props = self._property_cache[text]
            values.append(props or (0.0,) * len(PREDICTED_PROPERTIES))
            mask.append(props is not None)
        return torch.tensor(values, dtype=torch.float64), torch.tensor(mask)

    def _update_statistics(self, values: torch.Tensor) -> None:
        """Add a batch of raw properties (N, 3) to the running mean and variance (Chan et al.'s parallel Welford)."""
        n = len(values)
        if n == 0:
            return
        values = values.to(self.property_mean.device)
        count = self.property_count + n
        batch_mean = values.mean(0)
        delta = batch_mean - self.property_mean
        self.property_m2 += ((values - batch_mean) ** 2).sum(0) + delta**2 * self.property_count * n / count
        self.property_mean += delta * n / count
        self.property_count.copy_(count)

    @property
    def property_std(self) -> torch.Tensor:
        """Standard deviations (3,) of the training properties (1 until two molecules were seen)."""
        if float(self.property_count) < 2:
            return torch.ones_like(self.property_mean)
        return (self.property_m2 / (self.property_count - 1)).sqrt().clamp_min(1e-6)

    def predict_properties(self, z: torch.Tensor) -> torch.Tensor:
        """Predicted raw properties (B, 3) — QED, logP, SA — of latents z (B, latent_dim)."""
        std = self.predictor(z).double() * self.property_std + self.property_mean
        return std.to(z.dtype)

    # --- training -------------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [OptimizerSpec("vae", list(self.parameters()), self.config.lr)]

    def kl_weight(self) -> float:
        """β at the current training step (linear warm-up)."""
        c = self.config
        if c.kl_warmup_steps == 0:
            return c.beta
        return c.beta * min(1.0, float(self.step_count) / c.kl_warmup_steps)

    def training_losses(self, batch: Any, group: str = "vae") -> dict[str, torch.Tensor]:
        """``loss`` = reconstruction + β·KL_free + property_weight·MSE; also ``reconstruction``, ``kl``,
        ``property_mse`` (standardised units) and ``token_accuracy``, all batch means."""
        c = self.config
        ids = self.ids_of(batch)
        mu, logvar = self.encode_ids(ids)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # reparameterisation (Kingma & Welling 2014)
        inputs, targets = ids[:, :-1], ids[:, 1:]
        if self.training and c.word_dropout > 0:
            drop = torch.rand(inputs.shape, device=inputs.device) < c.word_dropout
            inputs = inputs.masked_fill(drop & (inputs != BOS_ID), PAD_ID)
        logits = self.decoder_logits(z, inputs)
        ce = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=PAD_ID, reduction="none")  # (B, T-1)
        reconstruction = ce.sum(1).mean()
        kl_dims = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).mean(0)  # (D,) batch-mean KL per dimension
        kl = kl_dims.sum()
        kl_free = kl_dims.clamp_min(c.free_bits).sum()
        real = targets != PAD_ID
        accuracy = ((logits.argmax(-1) == targets) & real).sum() / real.sum().clamp_min(1)
        out = {"reconstruction": reconstruction, "kl": kl, "token_accuracy": accuracy.detach()}
        loss = reconstruction + self.kl_weight() * kl_free
        if c.property_weight > 0:
            values, mask = self.batch_properties(ids)
            if self.training:
                self._update_statistics(values[mask])
                self.step_count += 1
            target = ((values - self.property_mean.cpu()) / self.property_std.cpu()).to(z)
            mse = (self.predictor(z) - target.to(z.device)).pow(2).mean(1)
            mask = mask.to(z.device)
            property_mse = (mse * mask).sum() / mask.sum().clamp_min(1)
            loss = loss + c.property_weight * property_mse
            out["property_mse"] = property_mse
        elif self.training:
            self.step_count += 1
        out["loss"] = loss
        return out

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        return self.training_losses(batch, "vae")

    # --- encoding and decoding --------------------------------------------------------
    @torch.no_grad()
    def encode_smiles(self, smiles: list[str], batch_size: int = 256) -> tuple[torch.Tensor, list[int]]:
        """Posterior means (N, latent_dim) of the molecules that tokenise, and their indices in ``smiles``."""
        ids, kept = self.tokenize(smiles)
        if not kept:
            return torch.zeros(0, self.config.latent_dim), kept
        mus = [self.encode_ids(ids[i : i + batch_size].to(self.device))[0] for i in range(0, len(ids), batch_size)]
        return torch.cat(mus).cpu(), kept

    @torch.no_grad()
    def decode_ids(
        self, z: torch.Tensor, temperature: float = 0.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Token ids (B, ≤ max_length - 1) decoded from z (B, latent_dim): greedy when ``temperature`` is 0, else
        sampled from the softmax at that temperature with ``generator``; rows end at ``<eos>`` then ``<pad>``."""
        z = z.to(self.device, self.head.weight.dtype)
        n = len(z)
        state = self.initial_state(z)
        token = torch.full((n, 1), BOS_ID, dtype=torch.long, device=self.device)
        done = torch.zeros(n, dtype=torch.bool, device=self.device)
        out = []
        for _ in range(self.config.max_length - 1):
            x = torch.cat([self.embedding(token), z.unsqueeze(1)], dim=2)
            h, state = self.decoder(x, state)
            logits = self.head(h[:, -1]).float()
            logits[:, [PAD_ID, BOS_ID]] = -torch.inf
            if temperature > 0:
                probs = torch.softmax(logits / temperature, dim=1).cpu()
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1).to(self.device)
            else:
                nxt = logits.argmax(1)
            nxt = nxt.masked_fill(done, PAD_ID)
            out.append(nxt)
            done |= nxt == EOS_ID
            if bool(done.all()):
                break
            token = nxt.unsqueeze(1)
        return torch.stack(out, dim=1).cpu() if out else torch.zeros(n, 0, dtype=torch.long)

    def decode_smiles(
        self, z: torch.Tensor, temperature: float = 0.0, generator: torch.Generator | None = None
    ) -> list[str]:
        """SMILES decoded from latents z (B, latent_dim) (not canonicalised; '' when nothing decodes)."""
        return [self.tokenizer.decode_smiles(row) for row in self.decode_ids(z, temperature, generator).tolist()]

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` latents from the prior N(0, I), (n, latent_dim), drawn on the CPU with ``generator``."""
        return torch.randn(n, self.config.latent_dim, generator=generator)

    def sample_smiles(self, n: int, generator: torch.Generator | None = None, temperature: float = 0.0) -> list[str]:
        """``n`` molecules decoded from prior samples z ~ N(0, I) (greedy decoding unless ``temperature`` > 0)."""
        if n < 0:
            raise BadInputError(f"cannot sample {n} molecules", "ask for a number ≥ 0")
        was = self.training
        self.eval()
        try:
            out: list[str] = []
            for start in range(0, n, 500):
                z = self.sample_latent(min(500, n - start), generator)
                out += self.decode_smiles(z, temperature, generator)
        finally:
            self.train(was)
        return out
