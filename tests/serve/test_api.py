"""The REST API over served runs: listing, generation, uploads, streaming, limits, auth and errors."""

from __future__ import annotations

import base64
import io
import json
import threading

import numpy as np
import pytest
from PIL import Image

from genlab.core.errors import ConfigError
from genlab.serve import ServeSettings

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_bytes(size: int = 24) -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_health_readiness_and_the_model_list(client_for):
    client = client_for()
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"ready": True, "models": 3}
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert set(models) == {"digits", "clean", "poet"}
    assert models["digits"]["task"] == "image-generation" and models["digits"]["model"] == "image/cgan"
    assert models["digits"]["verbs"] == ["augment", "explain", "sample"]
    assert models["poet"]["endpoint"] == "/v1/models/poet/generate"


def test_a_model_page_has_its_card_verbs_schemas_and_formats(client_for):
    page = client_for().get("/v1/models/digits").json()
    assert page["default_verb"] == "sample" and "image/cgan" in page["card"]
    sample = page["verbs"]["sample"]
    assert sample["endpoint"] == "/v1/models/digits/generate" and sample["formats"]["png"] == "image/png"
    assert {"n", "label", "seed"} <= set(sample["schema"]["properties"])


def test_generate_returns_the_media_seeded_and_in_base64_when_asked(client_for):
    client = client_for()
    first = client.post("/v1/models/digits/generate", json={"n": 4, "label": 3, "seed": 0})
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert first.content.startswith(PNG_MAGIC) and "sample-seed0.png" in first.headers["content-disposition"]
    again = client.post("/v1/models/digits/sample", json={"n": 4, "label": 3, "seed": 0})
    assert again.content == first.content  # the verb's own endpoint, the same seed: the same images
    other = client.post("/v1/models/digits/generate", json={"n": 4, "label": 3, "seed": 1})
    assert other.content != first.content
    encoded = client.post("/v1/models/digits/generate", json={"n": 4, "label": 3, "seed": 0, "response": "base64"})
    body = encoded.json()
    assert body["media_type"] == "image/png" and base64.b64decode(body["data"]) == first.content
    array = client.post("/v1/models/digits/generate", json={"n": 2, "seed": 0, "format": "npy"})
    assert np.load(io.BytesIO(array.content)).shape == (2, 1, 16, 16)


def test_bad_requests_get_the_status_and_the_field(client_for):
    client = client_for(max_n=8)
    missing = client.post("/v1/models/nope/generate", json={})
    assert missing.status_code == 404 and missing.json()["models"] == ["clean", "digits", "poet"]
    for name in ("..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", ".hidden", "digits%00"):
        assert client.post(f"/v1/models/{name}/generate", json={}).status_code == 404, name
    assert client.get("/v1/models/..%2Fdigits").status_code in (404, 405)  # "..", "digits": no such model page
    bad_json = client.post("/v1/models/digits/generate", content=b"{n: 4", headers={"content-type": "application/json"})
    assert bad_json.status_code == 422 and "not valid JSON" in bad_json.json()["error"]
    unknown = client.post("/v1/models/digits/generate", json={"nn": 4})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "nn"]
    wrong_type = client.post("/v1/models/digits/generate", json={"n": "many"})
    assert wrong_type.status_code == 422 and wrong_type.json()["detail"][0]["loc"] == ["body", "n"]
    too_many = client.post("/v1/models/digits/generate", json={"n": 9})
    assert too_many.status_code == 422 and "limit of 8" in too_many.json()["error"]
    refused = client.post("/v1/models/digits/generate", json={"n": 2, "label": 12})
    assert refused.status_code == 400 and refused.json()["error"]
    verb = client.post("/v1/models/digits/upscale", json={})
    assert verb.status_code == 404 and "sample" in verb.json()["hint"]
    batch_job = client.post("/v1/models/digits/benchmark-augmentation", json={})  # trains for minutes: CLI only
    assert batch_job.status_code == 404 and "batch job" in batch_job.json()["error"]
    assert "augment" in client.get("/v1/models/digits").json()["verbs"]
    assert "benchmark-augmentation" not in client.get("/v1/models/digits").json()["verbs"]
    fmt = client.post("/v1/models/digits/generate", json={"format": "gif"})
    assert fmt.status_code == 422 and "png" in fmt.json()["hint"]
    stream = client.post("/v1/models/digits/generate", json={"stream": True})
    assert stream.status_code == 422 and "does not stream" in stream.json()["error"]


def test_uploads_are_checked_by_content_and_no_path_is_ever_read(client_for):
    client = client_for(max_upload_mb=0.05)
    photo = png_bytes()
    out = client.post("/v1/models/clean/denoise", files={"image": ("photo.jpg", photo, "image/jpeg")})
    assert out.status_code == 200 and out.content.startswith(PNG_MAGIC)
    assert Image.open(io.BytesIO(out.content)).size == (24, 24)
    as_json = client.post("/v1/models/clean/denoise", json={"image": {"base64": base64.b64encode(photo).decode()}})
    assert as_json.status_code == 200 and as_json.content == out.content
    fake = client.post("/v1/models/clean/denoise", files={"image": ("photo.png", b"GIF? no, plain text", "image/png")})
    assert fake.status_code == 415 and fake.json()["detail"][0]["loc"] == ["body", "image"]
    for path in ("/etc/passwd", "../runs/x.png", "photo.png"):
        refused = client.post("/v1/models/clean/denoise", json={"image": path})
        assert refused.status_code == 422 and "reads no paths" in refused.json()["error"], path
    big = client.post("/v1/models/clean/denoise", files={"image": ("big.png", PNG_MAGIC + b"0" * 200_000)})
    assert big.status_code == 413 and "limit" in big.json()["error"]
    not_a_file = client.post("/v1/models/digits/generate", files={"n": ("n.txt", b"4")})
    assert not_a_file.status_code == 422


def test_text_streams_as_server_sent_events(client_for):
    client = client_for()
    body = {"prompt": "To be", "max_new_tokens": 12, "seed": 0, "stream": True}
    with client.stream("POST", "/v1/models/poet/generate", json=body) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    events = [block for block in text.split("\n\n") if block]
    assert events[-1].startswith("event: done")
    pieces = [json.loads(e.split("data: ", 1)[1])["text"] for e in events if e.startswith("event: token")]
    whole = client.post("/v1/models/poet/generate", json={"prompt": "To be", "max_new_tokens": 12, "seed": 0})
    assert whole.status_code == 200 and "".join(pieces).strip() == whole.text.strip()


def test_a_token_guards_the_api_but_not_the_health_checks(client_for):
    secret = "s3cret-token-0123456789"
    client = client_for(token=secret)
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1/models").status_code == 401
    assert client.get("/v1/models", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    ok = client.get("/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert ok.status_code == 200 and len(ok.json()["models"]) == 3
    assert client.get("/metrics").status_code == 401


def test_only_loopback_serves_without_a_token():
    assert ServeSettings(host="127.0.0.1").token is None and ServeSettings(host="::1").host == "::1"
    with pytest.raises(ConfigError, match="without a token"):
        ServeSettings(host="0.0.0.0")
    assert ServeSettings(host="0.0.0.0", token="x" * 16).host == "0.0.0.0"


def test_a_full_queue_answers_503_with_retry_after_and_a_slow_request_504(client_for, monkeypatch):
    client = client_for(max_queue=1)
    gate = client.app.state.server.gate
    gate.count = 1  # one request already waiting
    busy = client.post("/v1/models/digits/generate", json={"n": 1})
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    gate.count = 0
    assert client.post("/v1/models/digits/generate", json={"n": 1}).status_code == 200

    import time

    from genlab.image.pipelines import ImageGenerationPipeline

    slow = client_for(timeout_s=0.2)
    original = ImageGenerationPipeline.run
    monkeypatch.setattr(ImageGenerationPipeline, "run", lambda self, r: (time.sleep(0.6), original(self, r))[1])
    late = slow.post("/v1/models/digits/generate", json={"n": 1})
    assert late.status_code == 504 and "0.2 s" in late.json()["error"]


def test_concurrent_requests_are_batched_and_get_what_they_would_alone(client_for, monkeypatch):
    import time

    from genlab.image.pipelines import ImageGenerationPipeline

    client = client_for(max_batch=8, max_wait_ms=300)
    alone = {s: client.post("/v1/models/digits/generate", json={"n": 2, "label": s, "seed": s}).content
             for s in range(4)}  # fmt: skip
    original = ImageGenerationPipeline.run  # a request answered alone takes a while: the others queue meanwhile
    monkeypatch.setattr(ImageGenerationPipeline, "run", lambda self, r: (time.sleep(0.3), original(self, r))[1])
    results: dict[int, bytes] = {}

    def call(s: int) -> None:
        results[s] = client.post("/v1/models/digits/generate", json={"n": 2, "label": s, "seed": s}).content

    threads = [threading.Thread(target=call, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == alone
    metrics = client.get("/metrics").text
    assert 'genlab_requests_total{model="digits",status="200",verb="generate"} 8' in metrics
    count = float(next(line.split()[-1] for line in metrics.splitlines() if line.startswith("genlab_batch_size_count")))
    assert count < 8  # fewer model calls than requests: some shared a batch


def test_new_runs_appear_and_an_empty_folder_says_how_to_train_one(client_for, tmp_path):
    from tests.serve.conftest import _save

    root = tmp_path / "runs"
    root.mkdir()
    client = client_for(paths=[root], reload_interval_s=0)
    empty = client.get("/v1/models").json()
    assert empty["models"] == [] and "genlab train" in empty["hint"]
    _save("image/dncnn", root / "denoising" / "fresh" / "model", depth=2, width=4)
    assert [m["name"] for m in client.get("/v1/models").json()["models"]] == ["fresh"]
    assert client.post("/v1/models/fresh/denoise", files={"image": ("a.png", png_bytes())}).status_code == 200


def test_the_openapi_schema_lists_every_pipeline_request(client_for):
    schema = client_for().get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert "image_sample_request" in components and "music_compose_request" in components
    compose = components["music_compose_request"]["properties"]
    assert "soundfont" not in compose and compose["prime"]["x-genlab-file"] == "music"
    assert "/v1/models/{name}/{verb}" in schema["paths"]


def test_text_requests_batch_by_prompt_length_and_each_keeps_its_seed(served_runs):
    import genlab
    from genlab.text.pipelines import TextGenerationPipeline

    pipe = genlab.load(served_runs / "text-generation" / "poet")
    assert isinstance(pipe, TextGenerationPipeline)
    requests = [pipe.request(prompt=p, max_new_tokens=15, seed=s, temperature=0.9)
                for p, s in [("To be", 0), ("or no", 1), ("To be", 2)]]  # fmt: skip
    keys = {pipe.batch_key(r) for r in requests}
    assert len(keys) == 1 and pipe.batch_key(pipe.request(prompt="To", max_new_tokens=15, seed=0)) not in keys
    assert pipe.batch_key(pipe.request(prompt="To be", n=2)) is None
    batched = [out.texts for out in pipe.run_batch(requests)]
    alone = [pipe.run(r).texts for r in requests]
    assert batched == alone and batched[0] != batched[2]


def test_the_studio_mounts_into_the_rest_app(served_runs):
    pytest.importorskip("gradio", reason="the studio extra (gradio) is not installed")
    from fastapi.testclient import TestClient

    from genlab.cli.serve import build_app

    with TestClient(build_app(ServeSettings(paths=[str(served_runs)]), studio=True)) as client:
        assert client.get("/v1/models").status_code == 200
        page = client.get("/studio/")
        assert page.status_code == 200 and "<html" in page.text.lower()
