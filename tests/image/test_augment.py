"""Generative augmentation: labelled draws with the confidence filter, the folder the loaders read, and the
real-only vs augmented study."""

import json

import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.core.registry import MODELS
from genlab.image.augment import AugmentationStudy, AugmentationStudyPipeline, AugmentPipeline, synthesize


def cgan():
    torch.manual_seed(0)
    cls = MODELS.get("image/cgan")
    return cls(cls.config_class.build({"image_size": 16, "latent_dim": 4, "g_width": 4, "d_width": 4,
                                       "num_classes": 3})).eval()  # fmt: skip


def test_every_class_gets_its_count_and_label():
    images, labels, stats = synthesize(cgan(), 4, seed=0)
    assert images.shape == (12, 1, 16, 16) and labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert stats["kept"] == [4, 4, 4] and images.abs().max() <= 1


def test_the_confidence_filter_keeps_what_the_judge_accepts_and_stops_at_the_oversample_limit():
    def judge(x):  # confident in class 0 for bright-ish images only, never in class 2
        logits = torch.zeros(len(x), 3)
        logits[:, 0] = 10.0 * (x.mean((1, 2, 3)) > x.mean())
        logits[:, 1] = 10.0
        logits[:, 2] = -10.0
        return logits

    images, labels, stats = synthesize(cgan(), 5, seed=0, judge=judge, min_confidence=0.9, oversample=3)
    assert stats["drawn"][2] == 15 and stats["kept"][2] == 0  # never accepted: 3 × 5 drawn, none kept
    assert stats["kept"][1] == 5 and (labels == 1).sum() == 5


def test_the_folder_is_laid_out_by_class_and_is_not_written_over(tmp_path):
    out = AugmentPipeline(cgan())(per_class=3, seed=1)
    folder = out.save(tmp_path / "syn")
    assert sorted(p.name for p in folder.iterdir()) == ["0", "1", "2", "augment.json"]
    assert len(list((folder / "2").glob("*.png"))) == 3
    assert json.loads((folder / "augment.json").read_text())["kept"] == [3, 3, 3]
    with pytest.raises(BadInputError, match="not empty"):
        out.save(tmp_path / "syn")
    import zipfile

    zipped = out.save(tmp_path / "syn.zip")
    assert len([n for n in zipfile.ZipFile(zipped).namelist() if n.endswith(".png")]) == 9


def test_unconditional_generators_are_refused():
    cls = MODELS.get("image/dcgan")
    gan = cls(cls.config_class.build({"image_size": 16, "latent_dim": 4, "g_width": 4, "d_width": 4}))
    with pytest.raises(BadInputError, match="not class-conditional"):
        AugmentPipeline(gan)


def test_the_study_compares_both_arms_per_count_and_seed():
    cls = MODELS.get("image/cgan")
    gan = cls(cls.config_class.build({"image_size": 16, "latent_dim": 4, "g_width": 4, "d_width": 4,
                                      "num_classes": 10})).eval()  # fmt: skip
    out = AugmentationStudyPipeline(gan)(data="builtin:digits", real_per_class="2,3", seeds=2, steps=3,
                                         synthetic_per_class=4)  # fmt: skip
    summary = out.report["summary"]
    assert [s["real_per_class"] for s in summary] == [2, 3] and all(s["seeds"] == 2 for s in summary)
    for s in summary:
        assert s["accuracy_gain"] == pytest.approx(100 * (s["accuracy_augmented"] - s["accuracy_real"]))
    assert len(out.report["runs"]) == 4 and "gain (points)" in out.html
    assert AugmentationStudy.build({"real_per_class": ["10,50", "100"]}).real_per_class == [10, 50, 100]
    with pytest.raises(Exception, match="positive counts"):
        AugmentationStudy.build({"real_per_class": "0"})
