"""``genlab explain`` for language models: attention maps and token attributions of a prompt, on one HTML page.

* ``--method attention`` — the attention weights of every layer and head of a transformer (GPT) over the prompt:
  row i of a map is how position i spreads its attention over the positions up to it. The page draws each
  layer's maps averaged over heads, and every head of the chosen ``--layer`` (default: the last).
* ``--method attribution`` — how much each prompt token contributes to the logit of the next token (``--target``,
  default the model's most likely one): integrated gradients over the token embeddings from a baseline prompt of
  the average token embedding at every position (:mod:`genlab.core.attribution`; not the zero embedding, where
  layer normalisation makes the path integral diverge), summed over the embedding dimensions; complete, so the
  attributions add up to the logit's change from that baseline (the page gives the gap) — or saliency.
"""

from __future__ import annotations

import html
from typing import Any, Literal

import torch
from pydantic import Field

from genlab.core.attribution import attribute
from genlab.core.errors import BadInputError
from genlab.core.html import ReportOutput, figure, img, page, table
from genlab.core.pipeline import Pipeline, Request, register_pipeline

MAX_TOKENS = 64


class TextExplanation(Request):
    """Options of ``genlab explain`` for a language model."""

    prompt: str = Field(description="the text to explain", json_schema_extra={"positional": True})
    method: Literal["attention", "attribution"] = Field("attention", description="attention or attribution")
    layer: int | None = Field(None, ge=0, description="attention: the layer whose heads are drawn (default: last)")
    target: str | None = Field(None, description="attribution: the next token explained (default: the most likely)")
    attribution: Literal["integrated-gradients", "saliency"] = Field(
        "integrated-gradients", description="attribution method"
    )
    seed: int | None = Field(None, description="unused: explaining draws nothing at random",
                             json_schema_extra={"cli": False})  # fmt: skip


def _labels(tokenizer: Any, ids: list[int]) -> list[str]:
    return [tokenizer.decode([i]).replace("\n", "⏎").replace(" ", "␣") or "∅" for i in ids]


@register_pipeline("text/explain")
class TextExplainPipeline(Pipeline):
    """``pipe(prompt="ROMEO:", method="attention")`` → :class:`ReportOutput` (HTML + JSON)."""

    task = "text-generation"
    verb = "explain"
    description = "explain a language model on a prompt: attention maps per layer and head, token attributions"
    request_class = TextExplanation
    output_class = ReportOutput
    model_hint = "attention maps and token attributions need a transformer language model (gpt)"

    @classmethod
    def model_problem(cls, model) -> str | None:
        if not all(hasattr(model, a) for a in ("tok_emb", "transformer", "head")):
            return f"{model.registry_name} is not a transformer with token embeddings"
        if not hasattr(model.transformer, "attention_maps"):
            return f"{model.registry_name}'s transformer cannot report its attention"
        return None

    def default_filename(self, request: TextExplanation) -> str:
        return f"explain-{request.method}.html"

    def _ids(self, prompt: str) -> list[int]:
        ids = self.model.tokenizer.encode(prompt)
        if not ids:
            raise BadInputError("the prompt is empty", "give a few words: genlab explain RUN 'ROMEO: But soft'")
        limit = min(MAX_TOKENS, self.model.config.block_size)
        if len(ids) > limit:
            raise BadInputError(f"the prompt has {len(ids)} tokens; at most {limit} are explained",
                                "shorten the prompt")  # fmt: skip
        return ids

    def run(self, request: TextExplanation) -> ReportOutput:
        ids = self._ids(request.prompt)
        labels = _labels(self.model.tokenizer, ids)
        x = torch.embedding(self.model.tok_emb.weight, torch.tensor([ids]))
        if request.method == "attention":
            report, body = self.attention(x, labels, request.layer)
        else:
            report, body = self.attribution(x, labels, request)
        report |= {"model": self.model.registry_name, "prompt": request.prompt, "tokens": labels}
        return ReportOutput(report, page(f"{self.model.registry_name}: {request.method}", body))

    @torch.no_grad()
    def attention(self, x: torch.Tensor, labels: list[str], layer: int | None) -> tuple[dict[str, Any], str]:
        maps = self.model.transformer.attention_maps(x)[:, 0]  # (L, H, T, T)
        n_layers, n_heads, t = maps.shape[0], maps.shape[1], maps.shape[2]
        layer = n_layers - 1 if layer is None else layer
        if layer >= n_layers:
            raise BadInputError(f"--layer {layer}: the model has {n_layers} layers", f"use 0 … {n_layers - 1}")
        size = max(2.0, 0.18 * t)

        def grid(panels: list[tuple[str, torch.Tensor]], title: str) -> str:
            cols = min(4, len(panels))
            rows = -(-len(panels) // cols)
            fig = figure(cols * (size + 0.6), rows * (size + 0.6))
            for i, (name, m) in enumerate(panels):
                ax = fig.add_subplot(rows, cols, i + 1)
                ax.imshow(m.numpy(), cmap="viridis", vmin=0, vmax=1)
                ax.set_title(name, fontsize=8)
                ticks = range(t) if t <= 32 else range(0, t, max(1, t // 16))
                ax.set_xticks(list(ticks), [labels[j] for j in ticks], fontsize=6, rotation=90)
                ax.set_yticks(list(ticks), [labels[j] for j in ticks], fontsize=6)
            return img(fig, title)

        layer_panels = [(f"layer {i} (mean of {n_heads} heads)", maps[i].mean(0)) for i in range(n_layers)]
        head_panels = [(f"layer {layer}, head {h}", maps[layer, h]) for h in range(n_heads)]
        # how far back each head looks: the attention-weighted mean distance to the attended positions
        distance = torch.arange(t)[:, None] - torch.arange(t)[None, :]
        reach = (maps * distance.clamp_min(0)).sum(-1).mean(-1)  # (L, H)
        report = {"method": "attention", "layers": n_layers, "heads": n_heads,
                  "attention": [[m.tolist() for m in layer_maps] for layer_maps in maps],
                  "mean_distance": [[round(float(v), 4) for v in row] for row in reach]}  # fmt: skip
        body = (
            "<p>Row i of each map: how token i distributes its attention over tokens 0 … i (causal).</p>"
            + "<h2>Every layer, heads averaged</h2>"
            + grid(layer_panels, "attention per layer")
            + f"<h2>The heads of layer {layer}</h2>"
            + grid(head_panels, f"attention heads of layer {layer}")
            + "<h2>How far back each head looks</h2><p class=note>attention-weighted mean distance in tokens</p>"
            + table(
                ["layer", *[f"head {h}" for h in range(n_heads)]],
                [[i, *[float(v) for v in reach[i]]] for i in range(n_layers)],
            )  # fmt: skip
        )
        return report, body

    def attribution(self, x: torch.Tensor, labels: list[str], request: TextExplanation) -> tuple[dict[str, Any], str]:
        model, tok = self.model, self.model.tokenizer
        with torch.no_grad():
            probs = model.head(model.transformer(x))[0, -1].softmax(-1)
        if request.target is None:
            target = int(probs.argmax())
        else:
            ids = tok.encode(request.target)
            if len(ids) != 1:
                raise BadInputError(f"--target '{request.target}' is {len(ids)} tokens, not one",
                                    "give a single token (one character for a character-level model)")  # fmt: skip
            target = ids[0]

        def logit(e: torch.Tensor) -> torch.Tensor:
            return model.head(model.transformer(e))[:, -1, target]

        baseline = model.tok_emb.weight.detach().mean(0).expand_as(x).contiguous()  # the average token, everywhere
        values = attribute(logit, x, request.attribution, baseline=baseline)
        per_token = (
            values.values.sum(-1)[0] if request.attribution == "integrated-gradients" else values.values.norm(dim=-1)[0]
        )
        scale = float(per_token.abs().max().clamp_min(1e-12))
        spans = []
        for label, a in zip(labels, per_token.tolist(), strict=True):
            alpha = min(1.0, abs(a) / scale)
            colour = f"rgba(31,95,168,{alpha:.2f})" if a >= 0 else f"rgba(224,130,42,{alpha:.2f})"
            spans.append(f'<span title="{a:+.4f}" style="background:{colour};padding:2px 1px;font-family:monospace">'
                         f"{html.escape(label)}</span>")  # fmt: skip
        target_label = _labels(tok, [target])[0]
        rows = [[i, lab, float(a)] for i, (lab, a) in enumerate(zip(labels, per_token.tolist(), strict=True))]
        report = {"method": request.attribution, "target": target_label, "target_probability": float(probs[target]),
                  "attribution": [round(float(a), 6) for a in per_token]}  # fmt: skip
        if values.delta is not None:
            report["completeness_gap"] = float(values.delta[0])
        body = (
            f"<p>Next token explained: <b>{html.escape(target_label)}</b> (probability {float(probs[target]):.3f}). "
            + (
                "Blue tokens raise its logit, orange ones lower it; integrated gradients from an all-zero embedding, "
                f"completeness gap {float(values.delta[0]):+.2e}."
                if values.delta is not None
                else "Saliency: the gradient's norm per token embedding."
            )  # fmt: skip
            + "</p><p style='line-height:2'>"
            + "".join(spans)
            + "</p>"
            + table(["position", "token", "attribution"], rows)
        )
        return report, body
