"""Restoration foundations: the bicubic kernel, noise and masks, PSNR/SSIM against scikit-image, colour
conversion, exact tiling, patch data and photo outputs."""

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.core.errors import BadInputError, DataError
from genlab.image.restoration import degrade
from genlab.image.restoration.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from genlab.image.restoration.data import FixedPatches, PatchDataset, load_photos, read_photo
from genlab.image.restoration.photo import PhotoOutput, restore_photo
from genlab.image.restoration.quality import psnr, ssim
from genlab.image.restoration.task import noise_degradation, sr_degradation
from genlab.image.restoration.tiling import tiled


def photo(c=3, h=48, w=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack([(x * 3).sin().abs(), y, (x * y * 5).cos().abs()])[:c]
    return (0.8 * base + 0.2 * torch.rand(c, h, w, generator=g)).clamp(0, 1)


# --------------------------------------------------------------------------- degradations


def test_bicubic_downscale_matches_pillows_antialiased_bicubic():
    x = photo(1, 60, 90)
    ours = degrade.downscale(x, 3)
    img = Image.fromarray((x[0].numpy() * 255).round().astype(np.uint8))
    pil = np.asarray(img.resize((30, 20), Image.Resampling.BICUBIC), dtype=np.float32) / 255
    # same kernel (Keys a=-0.5, widened by the scale); PIL rounds its input first: within 2 levels of 255
    assert ours.shape == (1, 20, 30) and np.abs(ours[0].numpy() - pil).max() <= 2.5 / 255


def test_downscale_needs_sides_divisible_by_the_scale():
    with pytest.raises(BadInputError, match="not divisible"):
        degrade.downscale(photo(1, 10, 10), 3)
    assert degrade.modcrop(photo(1, 10, 11), 3).shape == (1, 9, 9)


def test_noise_has_the_asked_sigma_on_the_255_scale_and_is_seeded():
    x = torch.full((1, 200, 200), 0.5)
    noisy = degrade.add_noise(x, 25, torch.Generator().manual_seed(0))
    assert abs(float((noisy - x).std() * 255) - 25) < 0.5
    assert torch.equal(noisy, degrade.add_noise(x, 25, torch.Generator().manual_seed(0)))
    per_image = degrade.add_noise(torch.zeros(2, 1, 100, 100), torch.tensor([5.0, 50.0]))
    assert per_image[0].std() * 255 < 7 and per_image[1].std() * 255 > 45


@pytest.mark.parametrize("kind", ["box", "stroke", "mixed"])
def test_masks_are_binary_partial_and_seeded(kind):
    m = degrade.random_mask(64, 48, kind, torch.Generator().manual_seed(3))
    assert m.shape == (1, 64, 48) and set(m.unique().tolist()) <= {0.0, 1.0}
    assert 0.01 < float(m.mean()) < 0.9
    assert torch.equal(m, degrade.random_mask(64, 48, kind, torch.Generator().manual_seed(3)))
    with pytest.raises(BadInputError, match="unknown mask kind"):
        degrade.random_mask(8, 8, "blob")


def test_training_and_evaluation_degrade_with_the_same_kernel():
    """The SR training pairs and the evaluation inputs come from one function: the same LR image."""
    from genlab.image.restoration.evaluation import Reference  # noqa: F401  (the evaluation module loads)

    clean = degrade.modcrop(photo(1, 50, 50), 3)
    lr_train, target = sr_degradation(3)(clean, None)
    assert torch.equal(lr_train, degrade.downscale(clean, 3)) and torch.equal(target, clean)
    noisy, _ = noise_degradation(10, 30)(clean, torch.Generator().manual_seed(0))
    assert 10 / 255 * 0.8 < float((noisy - clean).std()) < 30 / 255 * 1.2


# --------------------------------------------------------------------------- quality


def test_psnr_and_ssim_match_scikit_image():
    skm = pytest.importorskip("skimage.metrics")
    a, b = photo(3, 40, 40, 1), photo(3, 40, 40, 2)
    ours_psnr, ours_ssim = float(psnr(a, b)), float(ssim(a, b))
    ref_psnr = skm.peak_signal_noise_ratio(b.numpy(), a.numpy(), data_range=1)
    ref_ssim = skm.structural_similarity(
        b.numpy(), a.numpy(), data_range=1, channel_axis=0, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False,
    )  # fmt: skip
    assert ours_psnr == pytest.approx(ref_psnr, abs=1e-4)
    assert ours_ssim == pytest.approx(ref_ssim, abs=2e-3)


def test_psnr_y_crops_the_border_and_uses_bt601_luma():
    white, black = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    assert torch.allclose(rgb_to_y(white), torch.full((1, 1, 2, 2), 235 / 255))
    assert torch.allclose(rgb_to_y(black), torch.full((1, 1, 2, 2), 16 / 255))
    ref = photo(3, 30, 30)
    out = ref.clone()
    out[:, :3] = 0  # damage only the border
    assert float(psnr(out, ref, y_channel=True, crop_border=3)) == float("inf")
    assert float(psnr(out, ref, y_channel=True)) < 40
    with pytest.raises(BadInputError, match="same size"):
        psnr(ref, ref[:, :10])


def test_ycbcr_round_trip():
    x = photo(3)
    assert torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-5)


# --------------------------------------------------------------------------- tiling


def conv_stack(radius: int, scale: int = 1, channels: int = 1) -> torch.nn.Module:
    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(channels, 4, 3, padding=1)]
    for _ in range(radius - 1):
        layers += [torch.nn.Tanh(), torch.nn.Conv2d(4, 4, 3, padding=1)]
    layers += [torch.nn.Conv2d(4, channels * scale * scale, 1), torch.nn.PixelShuffle(scale)]
    return torch.nn.Sequential(*layers).eval()


@pytest.mark.parametrize("scale", [1, 3])
def test_tiles_overlapping_by_the_receptive_radius_give_the_untiled_result(scale):
    net = conv_stack(4, scale)
    x = photo(1, 70, 53).unsqueeze(0)
    with torch.no_grad():
        whole = net(x)
        exact = tiled(net, x, tile=16, overlap=4, scale=scale)
        seams = tiled(net, x, tile=16, overlap=1, scale=scale)
    assert exact.shape == whole.shape == (1, 1, 70 * scale, 53 * scale)
    assert torch.allclose(exact, whole, atol=1e-6)
    assert not torch.allclose(seams, whole, atol=1e-4)  # too little overlap shows: the test can fail


def test_a_large_photo_is_restored_tile_by_tile():
    net = conv_stack(2)
    x = torch.rand(1, 1, 1500, 1100)
    calls = []

    def fn(t):
        calls.append(t.shape[-2] * t.shape[-1])
        return net(t)

    with torch.no_grad():
        out = tiled(fn, x, tile=256, overlap=2)
        assert torch.allclose(out, net(x), atol=1e-6)
    assert max(calls) <= 260 * 260 and len(calls) == 6 * 5


# --------------------------------------------------------------------------- data


def write_photos(folder, n=3, size=(64, 48)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray((photo(3, size[1], size[0], i).permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(
            folder / f"p{i}.png"
        )
    return folder


def test_patches_are_degraded_pairs_and_a_seeded_run_repeats(tmp_path):
    photos, names, skipped = load_photos(str(write_photos(tmp_path / "p")), "y")
    assert len(photos) == 3 and photos[0].shape[0] == 1 and not skipped
    ds = PatchDataset(photos, 24, sr_degradation(3), patches=5)
    torch.manual_seed(0)
    first = [ds[i] for i in range(5)]
    torch.manual_seed(0)
    again = [ds[i] for i in range(5)]
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, again, strict=True))
    lr, hr = first[0]
    assert lr.shape == (1, 8, 8) and hr.shape == (1, 24, 24)
    fixed = FixedPatches(photos, 24, sr_degradation(3), 4, seed=1)
    assert torch.equal(fixed[2][0], FixedPatches(photos, 24, sr_degradation(3), 4, seed=1)[2][0])


def test_unreadable_photos_are_skipped_and_counted(tmp_path):
    folder = write_photos(tmp_path / "p", 2)
    (folder / "broken.png").write_bytes(b"not a png")
    photos, _, skipped = load_photos(str(folder), "rgb")
    assert len(photos) == 2 and [s.endswith("broken.png") for s in skipped] == [True]


def test_photos_smaller_than_the_patch_are_refused_with_a_hint(tmp_path):
    photos, _, _ = load_photos(str(write_photos(tmp_path / "p", 1, (20, 20))), "rgb")
    with pytest.raises(DataError, match="at least 96") as e:
        PatchDataset(photos, 96, sr_degradation(2), 4)
    assert "--patch-size" in e.value.hint


def test_missing_and_corrupt_photo_files_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_photo(tmp_path / "nope.png")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8garbage")
    with pytest.raises(DataError, match="cannot read"):
        read_photo(tmp_path / "bad.jpg")


def test_builtin_photos_need_no_download():
    pytest.importorskip("skimage")
    photos, names, _ = load_photos("builtin:photos", "gray")
    assert len(photos) >= 10 and "camera" in names and all(p.shape[0] == 1 for p in photos)


# --------------------------------------------------------------------------- outputs and colour handling


def test_photo_output_saves_full_size_in_the_asked_format(tmp_path):
    out = PhotoOutput(photo(3, 30, 40))
    for suffix in (".png", ".jpg", ".webp"):
        path = out.save(tmp_path / f"x{suffix}")
        assert Image.open(path).size == (40, 30)
    assert out.encode("jpeg")[:2] == b"\xff\xd8"
    with pytest.raises(BadInputError, match="cannot save"):
        out.save(tmp_path / "x.gif")


def test_a_luma_model_upscales_a_colour_photo_with_bicubic_chroma():
    rgb = photo(3, 20, 30)
    calls = []

    def model(x):  # stands for a ×2 luma model: bicubic on Y
        calls.append(x.shape)
        return degrade.bicubic_resize(x, (x.shape[-2] * 2, x.shape[-1] * 2))

    out = restore_photo(rgb, "y", 2, model)
    assert out.shape == (3, 40, 60) and calls == [(1, 1, 20, 30)]
    expected = degrade.bicubic_resize(rgb, (40, 60)).clamp(0, 1)
    assert torch.allclose(out, expected, atol=1e-4)  # bicubic is linear: Y and CbCr recombine exactly
    gray_model_on_rgb = restore_photo(rgb, "gray", 1, lambda x: x)
    assert torch.equal(gray_model_on_rgb, rgb)
