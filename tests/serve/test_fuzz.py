"""Property-based fuzz of the API: bodies built from each endpoint's own schema, with wrong and random values
mixed in, never get a 5xx."""

from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis (the dev extra) is not installed")
st = pytest.importorskip("hypothesis.strategies")

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 300), st.floats(-1e3, 1e3, allow_nan=False),
    st.text(max_size=12), st.sampled_from(["builtin:digits", "../etc/passwd", "/etc/passwd", "left", "png", "wav"]),
)  # fmt: skip
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=5), SCALARS, max_size=2))
ENDPOINTS = [("digits", "generate"), ("digits", "sample"), ("clean", "denoise"), ("poet", "generate"),
             ("poet", "poem"), ("nope", "generate"), ("digits", "compose")]  # fmt: skip


@pytest.fixture(scope="module")
def fuzz_client(served_runs):
    from fastapi.testclient import TestClient

    from genlab.serve import ServeSettings, create_app

    with TestClient(create_app(ServeSettings(paths=[str(served_runs)], timeout_s=60, max_n=16))) as client:
        yield client


def _fields(client, name: str, verb: str) -> list[str]:
    page = client.get(f"/v1/models/{name}")
    if page.status_code != 200:
        return ["n", "seed"]
    verbs = page.json()["verbs"]
    schema = next((v["schema"] for v in verbs.values() if v["endpoint"].endswith(f"/{verb}")), None)
    schema = schema or next(iter(verbs.values()))["schema"]
    return [*schema.get("properties", {}), "format", "response", "stream"]


@pytest.mark.parametrize(("name", "verb"), ENDPOINTS)
def test_no_body_gets_a_server_error(fuzz_client, name, verb):
    fields = _fields(fuzz_client, name, verb)
    keys = st.one_of(st.sampled_from(fields), st.text(min_size=1, max_size=8))

    @hypothesis.settings(max_examples=25, deadline=None, derandomize=True,
                         suppress_health_check=list(hypothesis.HealthCheck))  # fmt: skip
    @hypothesis.given(body=st.dictionaries(keys, VALUES, max_size=4))
    def check(body):
        body = {k: v for k, v in body.items() if not (k == "max_new_tokens" and isinstance(v, int) and v > 50)}
        response = fuzz_client.post(f"/v1/models/{name}/{verb}", json=body)
        assert response.status_code < 500, (body, response.status_code, response.text[:300])

    check()


def test_raw_bodies_that_are_not_json_objects_get_422(fuzz_client):
    for raw in (b"[1, 2]", b'"text"', b"\xff\xfe", b"{", b"null", b"123"):
        response = fuzz_client.post(
            "/v1/models/digits/generate", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, raw
