"""Evaluation: shipped extractors, the Inception path, folder and run evaluation, VAE likelihood."""

import json
import shutil
import warnings

import pytest
import torch

import genlab
from genlab.cli.main import main
from genlab.core.checkpoint import sha256_file
from genlab.core.errors import BadInputError, CheckpointError, DataError, UnknownNameError
from genlab.core.registry import TASKS
from genlab.image import evaluation, inception
from genlab.image.classifier import WEIGHTS_DIR
from genlab.image.data import load_images
from genlab.image.evaluation import evaluate_folders
from genlab.image.extractors import get_extractor
from genlab.image.io import to_pil
from genlab.image.vae import VAE, VAEConfig

# --------------------------------------------------------------------------- extractors


def test_extractor_from_a_saved_classifier_folder_checks_its_sha256(tmp_path):
    shutil.copytree(WEIGHTS_DIR / "mnist-lenet", tmp_path / "copy")
    ext = get_extractor(str(tmp_path / "copy"))
    assert ext.sha256 == sha256_file(tmp_path / "copy" / "model.safetensors") and ext.name == "mnist-lenet"
    assert get_extractor(str(tmp_path / "copy" / "model.safetensors")).sha256 == ext.sha256
    data = bytearray((tmp_path / "copy" / "model.safetensors").read_bytes())
    data[-10] ^= 0xFF
    (tmp_path / "copy" / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        get_extractor(str(tmp_path / "copy"))


def test_unknown_extractor_and_missing_files(tmp_path):
    with pytest.raises(UnknownNameError, match="mnist-lenett"):
        get_extractor("mnist-lenett")
    with pytest.raises(CheckpointError, match="no classifier"):
        get_extractor("/nonexistent/extractor.safetensors")
    with pytest.raises(CheckpointError, match="config.json is missing"):
        get_extractor(str(tmp_path))


def test_extractor_prepares_colour_and_size():
    ext = get_extractor("mnist-lenet")
    rgb = torch.rand(3, 3, 32, 32) * 2 - 1
    assert ext.prepare(rgb).shape == (3, 1, 28, 28)
    assert ext.preprocessing(32, 3) == {"resize": "bilinear (antialiased) 32→28", "channels": "RGB→luma (ITU-R 601-2)"}
    assert ext.features(rgb).shape == (3, 128) and ext.logits(rgb).shape == (3, 10)


# --------------------------------------------------------------------------- Inception-v3


def test_inception_without_weights_says_how_to_get_them(monkeypatch):
    monkeypatch.delenv("GENLAB_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(BadInputError) as err:
        get_extractor("inception-v3")
    assert inception.FID_WEIGHTS_NAME in err.value.hint and "GENLAB_INCEPTION_WEIGHTS" in err.value.hint


def test_inception_checksum_refusal(tmp_path):
    path = tmp_path / inception.FID_WEIGHTS_NAME
    path.write_bytes(b"not the weights")
    with pytest.raises(CheckpointError, match="sha256 starts"):
        get_extractor("inception-v3", inception_weights=str(path))


@pytest.mark.slow
def test_inception_loads_checked_weights_only_file(tmp_path, monkeypatch):
    torch.manual_seed(0)
    net = inception.FIDInceptionV3().eval()
    path = tmp_path / "weights.pth"
    torch.save({**net.state_dict(), "fc.weight": torch.zeros(1008, 2048)}, path)
    monkeypatch.setattr(inception, "FID_WEIGHTS_SHA256_PREFIX", sha256_file(path)[:8])
    monkeypatch.setenv("GENLAB_INCEPTION_WEIGHTS", str(path))
    ext = get_extractor("inception-v3")
    x = torch.rand(1, 1, 28, 28) * 2 - 1
    feats = ext.features(x)
    assert feats.shape == (1, 2048)
    with torch.no_grad():
        assert torch.allclose(feats, net(ext.prepare(x)), atol=1e-5)
    assert ext.protocol()["extractor_sha256"] == sha256_file(path)


# --------------------------------------------------------------------------- folders


def write_pngs(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(to_pil(images)):
        img.save(folder / f"{i:04d}.png")
    return folder


@pytest.fixture(scope="module")
def digit_folders(tmp_path_factory):
    x, _ = load_images("builtin:mnist-5k", None, None, 600, seed=0)
    root = tmp_path_factory.mktemp("folders")
    return write_pngs(root / "a", x[:300]), write_pngs(root / "b", x[300:]), x


def test_evaluate_folders_records_protocol(digit_folders, tmp_path, monkeypatch):
    monkeypatch.setattr(evaluation, "KID_SUBSETS", 10)
    a, b, x = digit_folders
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*biased")  # 300 samples > 128 feature dims: no warning
        result = evaluate_folders(a, b, "fid,kid,is,precision,recall,density,coverage", seed=1)
    m, p = result["metrics"], result["protocol"]
    assert set(m) >= {"fid", "kid", "kid_std", "is", "precision", "recall", "density", "coverage"}
    assert m["precision"] > 0.7 and m["recall"] > 0.7 and m["is"] > 5 and abs(m["kid"]) < 30
    noisy = write_pngs(tmp_path / "noisy", x[:300] + 0.6 * torch.randn(300, 1, 28, 28))
    worse = evaluate_folders(noisy, b, "fid,kid,precision", seed=1)["metrics"]
    assert worse["fid"] > 3 * m["fid"] and worse["kid"] > m["kid"] + 100
    assert p["n_generated"] == p["n_reference"] == 300 and p["extractor"] == "mnist-lenet"
    assert p["extractor_sha256"] == sha256_file(WEIGHTS_DIR / "mnist-lenet" / "model.safetensors")
    assert p["resize"] == "none" and p["seed"] == 1 and p["genlab_version"] == genlab.__version__


def test_folder_errors(digit_folders, tmp_path):
    a, _, x = digit_folders
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no images"):
        evaluate_folders(empty, a)
    small = write_pngs(tmp_path / "small", x[:20, :, :20, :20])
    with pytest.raises(BadInputError, match="20×20"):
        evaluate_folders(small, a)
    rgb = write_pngs(tmp_path / "rgb", x[:20].repeat(1, 3, 1, 1) * torch.tensor([1.0, 0.5, 0.2]).view(1, 3, 1, 1))
    with pytest.raises(BadInputError, match="channel"):
        evaluate_folders(rgb, a)
    with pytest.raises(UnknownNameError):
        evaluate_folders(a, a, "fid,fidd")


def test_fewer_samples_than_feature_dims_warns(digit_folders):
    a, b, _ = digit_folders
    with pytest.warns(UserWarning, match="biased"):
        evaluate_folders(a, b, "fid", n=60)


def test_task_evaluates_folders_with_the_model_free_metrics(digit_folders):
    a, b, _ = digit_folders
    task = TASKS.get("image-generation")
    result = task.evaluate_files(a, b, ["fid"], {"n": 100, "seed": 1, "k": None})
    assert result == evaluate_folders(a, b, "fid", n=100, seed=1)
    assert result["protocol"]["n_generated"] == 100 and set(result["metrics"]) == {"fid"}
    with pytest.raises(UnknownNameError, match="label_accuracy"):
        task.evaluate_files(a, b, "fid,label_accuracy", {})


def test_cli_folder_mode(digit_folders, tmp_path, capsys):
    a, b, _ = digit_folders
    out = tmp_path / "result.json"
    with pytest.raises(SystemExit) as e:
        main(["eval", "--fake", str(a), "--real", str(b), "--metrics", "fid,kid", "--out", str(out)])
    assert e.value.code in (0, None)
    assert "fid" in capsys.readouterr().out
    assert json.loads(out.read_text())["protocol"]["extractor"] == "mnist-lenet"


# --------------------------------------------------------------------------- sampling


def test_generate_reports_progress_without_changing_the_samples(monkeypatch, capsys):
    monkeypatch.setattr(evaluation, "PROGRESS_SECONDS", 0.0)  # a line after every batch
    torch.manual_seed(0)
    vae = VAE(VAEConfig(image_size=8, hidden_dims=[16])).eval()
    x = evaluation.generate(vae, 10, 0, batch_size=4, progress="sampling image/vae")
    out = capsys.readouterr().out
    assert "sampling image/vae: 4/10 images" in out and "8/10" in out and "10/10" not in out
    assert torch.equal(x, evaluation.generate(vae, 10, 0, batch_size=4)) and capsys.readouterr().out == ""


# --------------------------------------------------------------------------- VAE likelihood


def test_importance_weighted_bound_tightens_with_k():
    torch.manual_seed(0)
    vae = VAE(VAEConfig(image_size=8, latent_dim=2, hidden_dims=[16])).eval()
    x = torch.bernoulli(torch.full((4, 1, 8, 8), 0.3), generator=torch.Generator().manual_seed(0)) * 2 - 1
    g = torch.Generator().manual_seed(1)
    one = vae.log_likelihood_iw(x.repeat(1000, 1, 1, 1), 1, generator=g).view(1000, 4).mean(0)  # 1000 draws
    with torch.no_grad():
        mu, logvar = vae.encode(x)
        eps = torch.randn(4000, *mu.shape, generator=g)
        z = (mu + torch.exp(0.5 * logvar) * eps).reshape(-1, 2)
        recon = vae.decoder_log_prob(x.repeat(4000, 1, 1, 1), z).view(4000, 4).mean(0)
        elbo = recon - 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
    assert torch.allclose(one, elbo, atol=0.3)  # k = 1: an unbiased estimate of the ELBO
    many = vae.log_likelihood_iw(x, 256, generator=g)
    assert (many > elbo).all() and (many < 0).all()


# --------------------------------------------------------------------------- runs


@pytest.mark.slow
def test_evaluate_run_with_baselines_and_protocol(runs_dir, monkeypatch):
    res = genlab.train(
        "image-generation",
        model="cvae",
        data="builtin:mnist-5k",
        name="cvae",
        runs_dir=runs_dir,
        max_steps=30,
        progress=False,
    )
    metrics = "fid,kid,precision,recall,label_accuracy,nll,recon"
    drawn = []
    original = evaluation.generate
    monkeypatch.setattr(
        evaluation, "generate", lambda model, n, seed, **kw: drawn.append(model) or original(model, n, seed, **kw)
    )
    result = genlab.evaluate(res.run.path, metrics, n=300, k=4, seed=0)
    assert sum(m.registry_name == "image/cvae" for m in drawn) == 1  # label accuracy reuses the FID samples
    saved = json.loads((res.run.path / "eval.json").read_text())
    assert saved == json.loads(json.dumps(result))
    m, base, p = result["metrics"], result["baselines"], result["protocol"]
    assert {"fid", "kid", "precision", "recall", "label_accuracy", "nll_nats", "recon_mse", "psnr", "ssim"} <= set(m)
    assert 0 <= m["label_accuracy"] <= 1 and m["nll_nats"] > 0 and 0 < m["ssim"] < 1
    assert set(base) == {"floor", "gaussian", "gmm"}
    assert base["floor"]["fid"] < base["gaussian"]["fid"] and base["floor"]["fid"] < m["fid"]
    assert p["reference"] == "builtin:mnist-5k" and "seeded half" in p["reference_split"]
    assert p["n_generated"] == 300 and p["n_reference"] == 300 and p["nll_importance_samples"] == 4
    assert p["model"] == "image/cvae" and len(p["model_sha256"]) == 64
    vae = VAE(VAEConfig(image_size=8, hidden_dims=[16])).eval()
    with pytest.raises(BadInputError, match="conditional"):
        evaluation.label_accuracy(vae, 10, get_extractor("mnist-lenet"), {}, 0)


def test_gray_against_rgb_folders_is_refused_before_any_extractor_is_needed(tmp_path, capsys):
    from PIL import Image

    from tests.cli_helpers import cli_ok

    for name, mode in (("gray", "L"), ("rgb", "RGB")):
        (tmp_path / name).mkdir()
        for i in range(8):
            Image.new(mode, (64, 64), 30 * i if mode == "L" else (30 * i, 0, 0)).save(tmp_path / name / f"{i}.png")
    code, out = cli_ok(["eval", "--fake", str(tmp_path / "gray"), "--real", str(tmp_path / "rgb")], capsys)
    assert code == 2 and "channel" in out and "nception" not in out, out
