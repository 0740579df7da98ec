"""The studio end to end in a real headless Chromium: ``genlab serve RUNS --studio`` runs as a process and Playwright
drives the page at /studio — generate an image, stream text, open a run, start and cancel a training job, build a
character.

Needs Debian's Chromium (``make setup`` installs it; ``$GENLAB_CHROMIUM`` points elsewhere) and the ``playwright``
package (the dev extra); the module skips with the reason when either is missing. No browser is downloaded.

``GENLAB_SCREENSHOTS=DIR`` saves ``studio-*.png`` screenshots there (``make screenshots`` writes docs/images);
``GENLAB_STUDIO_RUNS=DIR`` serves that runs folder instead of the tiny untrained models built here (it must hold
runs named ``digits`` (image generation), ``poet`` (text generation) and ``chars`` (character)).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import free_port
from tests.studio.conftest import save_untrained, write_run

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra)")
httpx = pytest.importorskip("httpx", reason="the serve extra (httpx) is not installed")
pytest.importorskip("gradio", reason="the studio extra (gradio) is not installed")

CHROMIUM = os.environ.get("GENLAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    pytest.skip("Chromium not found (Debian package `chromium`; `make setup` installs it)", allow_module_level=True)

pytestmark = pytest.mark.slow
#: Chromium on a closed network, as root, without a GPU: no sandbox, no background connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]  # fmt: skip
TIMEOUT_MS = 60_000
SHOTS = os.environ.get("GENLAB_SCREENSHOTS")


def _tiny_runs(root: Path) -> Path:
    """``digits`` (an untrained cGAN, with a finished run's files), ``poet`` (a GPT trained a few steps) and
    ``chars`` (an untrained 16 px character CVAE over a small attribute schema)."""
    import genlab

    digits = root / "image-generation" / "digits"
    save_untrained("image/cgan", digits / "model", image_size=16, num_classes=10, latent_dim=8, g_width=8,
                   d_width=8)  # fmt: skip
    run = {"task": "image-generation", "data": {"source": "builtin:digits"}, "model": {"name": "cgan"}}
    write_run(digits, run, [1.5, 1.2, 0.9], {"fid": 123.4})
    corpus = root.parent / "corpus.txt"
    corpus.write_text("To be, or not to be, that is the question.\n" * 40, encoding="utf-8")
    genlab.train("text-generation", "gpt", str(corpus), "poet", runs_dir=root, max_steps=4, progress=False,
                 sample_every=0, overrides=["model.n_layer=2", "model.n_head=2", "model.n_embd=64",
                                            "data.block_size=64", "train.batch_size=8"])  # fmt: skip
    values = {"sex": ["male", "female"], "hair_color": ["black", "blonde", "blue"], "hat": ["none", "cap"],
              "direction": ["north", "west", "south", "east"]}  # fmt: skip
    save_untrained("character/cvae", root / "character" / "chars" / "model", image_size=16, latent_dim=4,
                   hidden_dims=[4, 8], attributes=list(values), values=values)  # fmt: skip
    return root


@pytest.fixture(scope="module")
def studio_url(tmp_path_factory):
    """``genlab serve RUNS --studio`` on a free loopback port; yields the studio's URL, stops the server after."""
    given = os.environ.get("GENLAB_STUDIO_RUNS")
    root = Path(given) if given else _tiny_runs(tmp_path_factory.mktemp("browser") / "runs")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("server") / "server.log").open("wb")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "serve", str(root), "--studio", "--port", str(port),
                             "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    try:
        for _ in range(1200):
            if proc.poll() is not None:
                pytest.fail(f"genlab serve exited with {proc.returncode}: see {log.name}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("genlab serve did not start in 2 minutes")
        yield f"{base}/studio/"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, studio_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.goto(studio_url)
    pg.get_by_role("tab", name="Generate").wait_for()
    yield pg
    context.close()


def shot(page, name: str) -> None:
    """Save ``studio-<name>.png`` (the whole page) when screenshots are asked for."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"studio-{name}.png"), full_page=True)


def choose(page, selector: str, option: str) -> None:
    """Pick ``option`` in the gradio dropdown ``selector``."""
    page.locator(f"{selector} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def pick_model(page, name: str, verb: str) -> None:
    choose(page, "#generate-model", name)
    page.wait_for_function(
        "v => document.querySelector('#generate-verb input').value === v", arg=verb, timeout=TIMEOUT_MS
    )
    page.locator("#generate-run").wait_for()


def test_generate_an_image(page):
    pick_model(page, "digits", "sample")
    page.locator("#generate-run").click()
    page.locator("#generate-image img").wait_for()
    assert "digits · sample" in page.locator("#generate-message").inner_text()
    src = page.locator("#generate-image img").get_attribute("src")
    assert src and page.request.get(src).body()[:8] == b"\x89PNG\r\n\x1a\n"
    shot(page, "generate")


def test_text_streams_into_the_page(page):
    pick_model(page, "poet", "generate")
    page.get_by_label("max new tokens").fill("1500")
    page.get_by_label("prompt").fill("To be")
    page.locator("#generate-run").click()
    seen: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # read the text box while the pieces arrive
        value = page.evaluate("() => document.querySelector('#generate-text textarea')?.value ?? ''")
        if value and (not seen or value != seen[-1]):
            seen.append(value)
        if (
            " s" in page.locator("#generate-message").inner_text()
            and "generating" not in page.locator("#generate-message").inner_text()
        ):
            break
        time.sleep(0.05)
    final = page.evaluate("() => document.querySelector('#generate-text textarea').value")
    assert final.startswith("To be") and len(final) > 1000
    assert len(seen) >= 2 and all(final.startswith(s) for s in seen)  # it grew piece by piece
    shot(page, "text")


def test_open_a_run(page):
    page.get_by_role("tab", name="Runs").click()
    choose(page, "#runs-pick", "image-generation/digits")
    page.locator("#runs-loss img").wait_for()
    page.wait_for_function("() => document.querySelector('#runs-card').innerText.trim().length > 0")
    shot(page, "runs")


def test_start_and_cancel_a_training_job(page, studio_url):
    page.get_by_role("tab", name="Train").click()
    choose(page, "#train-task", "image-generation")
    page.wait_for_function("() => document.querySelector('#train-model input').value === 'dcgan'")
    choose(page, "#train-data", "builtin:digits")
    page.locator("#train-minutes input").fill("5")
    name = f"browser-{os.getpid()}"
    page.locator("#train-name textarea, #train-name input").first.fill(name)
    page.get_by_role("button", name="Start").click()
    page.wait_for_function(
        "() => /step [1-9]/.test(document.querySelector('#train-progress').innerText)", timeout=120_000
    )
    shot(page, "train")
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_function(
        "() => /exit code/.test(document.querySelector('#train-progress').innerText)", timeout=120_000
    )
    assert "running" not in page.locator("#train-progress").inner_text().split("·")[0]


def test_build_a_character(page):
    page.get_by_role("tab", name="Characters").click()
    page.locator("#character-draw").wait_for()
    choose(page, "#feature-hair_color", "blue")
    page.locator("#character-draw").click()
    page.locator("#character-candidates img").nth(3).wait_for()
    assert page.locator("#character-candidates img").count() == 4
    page.locator("#character-candidates img").nth(1).click()
    page.locator("#character-locked img").wait_for()
    assert "chosen: hair_color" in page.get_by_text("chosen:").inner_text()
    choose(page, "#character-vary", "hat")
    page.get_by_role("button", name="Vary").click()
    page.locator("#character-variants img").nth(1).wait_for()
    page.locator("#character-variants img").nth(1).click()
    page.wait_for_function("() => /chosen: hair_color, hat/.test(document.body.innerText)")
    shot(page, "characters")
    page.get_by_role("button", name="Export sprite sheet (4 directions)").click()
    link = page.locator("#character-export a").first
    link.wait_for()
    with page.expect_download() as download:
        link.click()
    path = download.value.path()
    from PIL import Image

    with Image.open(path) as sheet:  # four directions side by side
        assert sheet.width == 4 * sheet.height
