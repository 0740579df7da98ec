"""The stroke domains (thin and thick MNIST digits from disjoint halves) and unpaired batches."""

import numpy as np
import pytest
import torch

from genlab.core.errors import ConfigError
from genlab.core.registry import DATASETS
from genlab.image.data import ImageTensorDataset
from genlab.image.translation.data import TranslationDataConfig, UnpairedImages
from genlab.image.translation.strokes import HELD_OUT, THICK, THIN, dilate, erode, morph, original_digits, part_indices


@pytest.fixture(scope="module")
def digits():
    return original_digits()


def test_the_domains_come_from_disjoint_digits_and_the_test_digits_from_neither(digits):
    parts = part_indices(len(digits.images))
    test, thin, thick = (set(parts[k].tolist()) for k in ("test", THIN, THICK))
    assert len(test) == HELD_OUT and len(thin) == len(thick) == (5000 - HELD_OUT) // 2
    assert not (test & thin) and not (test & thick) and not (thin & thick)
    assert test | thin | thick == set(range(5000))


def test_stroke_datasets_are_erosion_and_dilation_of_their_digits(digits):
    parts = part_indices(len(digits.images))
    for name, op, sign in ((THIN, erode, -1), (THICK, dilate, 1)):
        raw = DATASETS.get(name)("train", None, False)
        original = digits.images[parts[name]]
        assert raw.images.shape == original.shape and raw.images.dtype == np.uint8
        assert np.array_equal(raw.labels, digits.labels[parts[name]])
        x = torch.from_numpy(original).permute(0, 3, 1, 2).float()
        expected = op(x).permute(0, 2, 3, 1).numpy().astype(np.uint8)
        assert np.array_equal(raw.images, expected)
        made = raw.images.astype(int) - original.astype(int)
        assert (sign * made >= 0).all() and (made != 0).any()  # thin ≤ original ≤ thick, and not unchanged


def test_the_test_splits_are_the_same_held_out_digits_thin_and_thick(digits):
    thin, thick = (DATASETS.get(n)("test", None, False) for n in (THIN, THICK))
    original = digits.images[part_indices(5000)["test"]]
    assert len(thin.images) == HELD_OUT and np.array_equal(thin.labels, thick.labels)
    assert (thin.images <= original).all() and (original <= thick.images).all()


def test_morphology_matches_scipy_grey_erosion_and_dilation(digits):
    ndimage = pytest.importorskip("scipy.ndimage")
    images = digits.images[:20]
    for steps, fn in ((-1, ndimage.grey_erosion), (1, ndimage.grey_dilation), (2, None)):
        ours = morph(images, steps)
        if fn is None:  # two 3×3 dilations = one 5×5 dilation
            theirs = ndimage.grey_dilation(images, size=(1, 5, 5, 1), mode="nearest")
        else:  # mode "nearest" repeats edge pixels, which never changes a min or max: the same as ignoring the outside
            theirs = fn(images, size=(1, 3, 3, 1), mode="nearest")
        assert np.array_equal(ours, theirs), steps


def test_the_pair_name_fills_both_domains_and_other_data_names_are_refused():
    cfg = TranslationDataConfig.build({"source": "builtin:mnist-strokes"})
    assert (cfg.source_a, cfg.source_b) == (THIN, THICK)
    assert TranslationDataConfig.build({"source_a": "a/", "source_b": "b/"}).source is None
    with pytest.raises(ConfigError, match="not a registered pair") as err:
        TranslationDataConfig.build({"source": "builtin:mnist-5k"}, where="data")
    assert "--data-a" in err.value.hint and "--data-b" in err.value.hint
    with pytest.raises(ConfigError, match="sets both domains"):
        TranslationDataConfig.build({"source": "builtin:mnist-strokes", "source_a": "photos/"})


def _domain(n: int, value: int) -> ImageTensorDataset:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous() + value
    return ImageTensorDataset(images, torch.zeros(n, dtype=torch.long))


def _ids(image: torch.Tensor, value: int) -> int:
    return int(round((float(image[0, 0, 0]) + 1) * 127.5)) - value


def test_unpaired_batches_walk_the_larger_domain_and_draw_the_other_at_random():
    a, b = _domain(3, 0), _domain(10, 100)
    data = UnpairedImages(a, b)
    assert len(data) == 10
    torch.manual_seed(0)
    first = [(_ids(x, 0), _ids(y, 100)) for x, y in data.__getitems__(list(range(10)))]
    assert [j for _, j in first] == list(range(10))  # B is larger: walked in the loader's order
    torch.manual_seed(1)
    second = [(_ids(x, 0), _ids(y, 100)) for x, y in data.__getitems__(list(range(10)))]
    assert first != second  # A's images are drawn afresh: no pair is fixed
    fixed = UnpairedImages(a, b, random_pairs=False)
    assert [(_ids(x, 0), _ids(y, 100)) for x, y in fixed.__getitems__([0, 4, 9])] == [(0, 0), (1, 4), (0, 9)]
    x, y = data[0]
    assert x.shape == y.shape == (1, 4, 4) and x.dtype == torch.float32
