"""``genlab explain`` on language models: attention maps are the weights the layers apply, token attributions are
complete, and models without a transformer are refused."""

import pytest
import torch

pytest.importorskip("captum", reason="the explain extra (captum) is not installed")

from genlab.core.errors import BadInputError  # noqa: E402
from genlab.core.registry import MODELS  # noqa: E402
from genlab.text.explain import TextExplainPipeline  # noqa: E402
from genlab.text.tokenizers import CharTokenizer  # noqa: E402


def gpt():
    torch.manual_seed(0)
    tok = CharTokenizer(list("abcdefgh :\n"))
    cls = MODELS.get("text/gpt")
    config = cls.config_class.build({"vocab_size": tok.vocab_size, "block_size": 32, "n_layer": 2, "n_embd": 16,
                                     "n_head": 2, "tokenizer": tok.to_dict()})  # fmt: skip
    return cls(config).eval()


def test_attention_maps_are_causal_distributions_and_reproduce_the_layer():
    model = gpt()
    out = TextExplainPipeline(model)(prompt="abc deff", method="attention")
    maps = torch.tensor(out.report["attention"])  # (L, H, T, T)
    assert maps.shape == (2, 2, 8, 8) and out.report["tokens"][3] == "␣"
    assert torch.allclose(maps.sum(-1), torch.ones(2, 2, 8), atol=1e-5)
    assert (maps.triu(1) == 0).all()  # nothing attends to later tokens
    block = model.transformer.blocks[0]  # the weights times the values give the layer's output
    x = torch.embedding(model.tok_emb.weight, torch.tensor([model.tokenizer.encode("abc deff")]))
    h = block.norm1(x)
    rope = model.transformer.rotary.tables(8, x.device)
    v = block.attn.qkv(h).view(1, 8, 3, 2, 8)[:, :, 2].transpose(1, 2)
    mixed = (maps[0].unsqueeze(0) @ v).transpose(1, 2).reshape(1, 8, 16)
    assert torch.allclose(block.attn.proj(mixed), block.attn(h, rope), atol=1e-5)
    assert "The heads of layer 1" in out.html


def test_token_attributions_add_up_to_the_logit_change():
    model = gpt()
    out = TextExplainPipeline(model)(prompt="ab:cd", method="attribution", target="e")
    r = out.report
    assert r["target"] == "e" and len(r["attribution"]) == 5 and abs(r["completeness_gap"]) < 1e-3
    x = torch.embedding(model.tok_emb.weight, torch.tensor([model.tokenizer.encode("ab:cd")]))
    base = model.tok_emb.weight.mean(0).expand_as(x)
    e = model.tokenizer.encode("e")[0]
    with torch.no_grad():
        change = model.head(model.transformer(x))[0, -1, e] - model.head(model.transformer(base))[0, -1, e]
    assert sum(r["attribution"]) == pytest.approx(float(change), abs=1e-3)


def test_bad_requests_and_models_are_refused():
    model = gpt()
    with pytest.raises(BadInputError, match="not one"):
        TextExplainPipeline(model)(prompt="ab", method="attribution", target="abc")
    with pytest.raises(BadInputError, match="layers"):
        TextExplainPipeline(model)(prompt="ab", layer=5)
    with pytest.raises(BadInputError, match="at most"):
        TextExplainPipeline(model)(prompt="a" * 40)
    ngram = MODELS.get("text/ngram")
    with pytest.raises(BadInputError, match="not a transformer"):
        TextExplainPipeline(ngram(ngram.config_class.build({"vocab_size": 5})))
