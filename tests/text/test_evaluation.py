"""Text evaluation through the generic loop: one likelihood pass, the n-gram baseline, poem-only metrics."""

import pytest

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.evaluation import evaluate_model
from genlab.core.provenance import Provenance
from genlab.text import evaluation as text_eval

from .helpers import ENGLISH, POEM_TEXT, tiny_model


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """Register what each tiny model was 'trained' on, as a checkpoint would record it."""

    def record(model, text: str, kind: str):
        path = tmp_path / f"{kind}.txt"
        path.write_text(text * 3, encoding="utf-8")
        model.provenance = Provenance(data={"kind": kind, "data_config": {"source": str(path)}})
        return model

    return record


def _count_nll_passes(model, counts: list[str]):
    original = model.sequence_nll

    def counted(ids):
        counts.append(model.registry_name)
        return original(ids)

    model.sequence_nll = counted


def test_val_loss_perplexity_and_bpc_share_one_pass_and_the_baseline_scores_the_same(recorded, monkeypatch):
    from genlab.text.ngram import KneserNeyLM

    passes: list[str] = []
    fit = KneserNeyLM.fit
    monkeypatch.setattr(KneserNeyLM, "fit", lambda self, *a: _count_nll_passes(self, passes) or fit(self, *a))
    model = recorded(tiny_model("text/gpt"), ENGLISH, "text")
    _count_nll_passes(model, passes)
    result = evaluate_model(model, "val-loss,perplexity,bpc", {"n": 2})
    assert passes == ["text/gpt", "text/ngram"]  # one pass of the model, one of the baseline
    m, base = result["metrics"], result["baselines"]["ngram5"]
    assert set(m) == set(base) == {"val_loss", "perplexity", "bpc"} and m["perplexity"] > base["perplexity"] > 1
    assert result["protocol"]["baseline"].startswith("interpolated modified Kneser-Ney 5-gram")
    assert result["protocol"]["val_tokens"] > 0 and "n_samples" not in result["protocol"]  # nothing was sampled
    only = evaluate_model(model, ["perplexity"], {"n": 2})
    assert only["metrics"] == {"perplexity": m["perplexity"]} and only["baselines"] == {
        "ngram5": {"perplexity": base["perplexity"]}
    }


def test_sample_metrics_draw_once_and_form_compliance_needs_a_poem_model(recorded, monkeypatch):
    drawn = []
    draw = text_eval._draw_samples
    monkeypatch.setattr(text_eval, "_draw_samples", lambda ctx: drawn.append(1) or draw(ctx))
    english = recorded(tiny_model("text/gpt"), ENGLISH, "text")
    result = evaluate_model(english, None, {"n": 3, "seed": 1})
    assert len(drawn) == 1  # distinct, self_bleu and memorization read the same samples
    assert {"perplexity", "bpc", "distinct_1", "distinct_2", "self_bleu", "memorization_8"} == set(result["metrics"])
    assert result["protocol"]["n_samples"] == 3 and result["protocol"]["distinct_units"] == "words"
    with pytest.raises(BadInputError, match="poem") as err:
        evaluate_model(english, "form-compliance", {"n": 3})
    assert "self_bleu" in err.value.hint
    poet = recorded(tiny_model("text/gpt", POEM_TEXT), POEM_TEXT, "poems")
    poems = evaluate_model(poet, None, {"n": 2})
    assert 0 <= poems["metrics"]["form_compliance"] <= 1 and poems["protocol"]["temperature"] == 0.8
    assert poems["protocol"]["distinct_units"] == "characters"


def test_text_eval_request_refuses_image_options(recorded):
    model = recorded(tiny_model("text/gpt"), ENGLISH, "text")
    with pytest.raises(ConfigError, match="eval.k"):
        evaluate_model(model, "distinct", {"k": 10})
    with pytest.raises(ConfigError, match="evaluate a model trained by genlab"):
        evaluate_model(tiny_model("text/gpt"), "bpc", {})
