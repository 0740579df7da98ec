"""The server's parts alone: upload recognition, the request schema, the metrics text, settings and the CLI."""

from __future__ import annotations

import io
import zipfile

import pytest

from genlab.serve import fields
from genlab.serve.metrics import Metrics
from genlab.serve.settings import is_loopback, read_token_file
from tests.cli_helpers import cli_ok


@pytest.mark.parametrize(
    ("kind", "data", "suffix"),
    [
        ("image", b"\x89PNG\r\n\x1a\n" + b"0" * 40, ".png"),
        ("image", b"\xff\xd8\xff\xe0" + b"0" * 40, ".jpg"),
        ("image", b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"0" * 40, ".webp"),
        ("audio", b"RIFF\x24\x00\x00\x00WAVEfmt " + b"0" * 40, ".wav"),
        ("audio", b"fLaC" + b"0" * 40, ".flac"),
        ("audio", b"OggS" + b"0" * 40, ".ogg"),
        ("music", b"MThd\x00\x00\x00\x06" + b"0" * 40, ".mid"),
        ("music", b'<?xml version="1.0"?>\n<score-partwise version="4.0">', ".musicxml"),
        ("music", b"X:1\nT:Tune\nM:6/8\nK:D\nABc|", ".abc"),
        ("music", b"**kern\n*clefG2\n4c\n*-\n", ".krn"),
        ("table", b"age,zip\n34,10115\n", ".csv"),
        ("table", b"age\tzip\n34\t10115\n", ".tsv"),
        ("table", b"PAR1" + b"0" * 40, ".parquet"),
        ("text", "Grüße aus Köln\n".encode(), ".txt"),
    ],
)
def test_uploads_are_recognised_by_their_first_bytes(kind, data, suffix):
    assert fields.sniff(kind, data, "whatever.name") == suffix


def test_a_zip_is_music_only_when_it_holds_musicxml():
    def archive(name: str) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr(name, "<score-partwise/>")
        return buffer.getvalue()

    assert fields.sniff("music", archive("score.xml")) == ".mxl"
    with pytest.raises(fields.UploadError):
        fields.sniff("music", archive("evil.exe"))


@pytest.mark.parametrize(
    ("kind", "data"),
    [("image", b"GIF? no: text"), ("audio", b"\x89PNG\r\n\x1a\n0000"), ("music", b"\x00\x01binary"),
     ("table", b"\x00\x00\x00"), ("text", b"\xff\xfe\x00bad"), ("dataset", b"builtin:digits")],
)  # fmt: skip
def test_a_file_of_the_wrong_kind_is_refused_with_415(kind, data):
    with pytest.raises(fields.UploadError) as info:
        fields.sniff(kind, data)
    assert info.value.status == 415 and kind in info.value.message


def test_graph_uploads_keep_a_known_suffix_and_default_to_an_edge_list():
    assert fields.sniff("graph", b"0 1\n1 2\n", "g.graphml") == ".graphml"
    assert fields.sniff("graph", b"0 1\n1 2\n", "g.sh") == ".edgelist"


def test_the_api_schema_hides_local_paths_and_describes_uploads():
    from genlab.core.registry import PIPELINES

    compose = PIPELINES.get("music/compose").request_class
    schema = fields.request_schema(compose)
    assert "soundfont" not in schema["properties"] and fields.hidden_fields(compose) == {"soundfont"}
    assert schema["properties"]["harmonize"]["x-genlab-file"] == "music" and "Base64File" in schema["$defs"]
    style = fields.request_schema(PIPELINES.get("image/stylize").request_class)["properties"]["style"]
    assert style["x-genlab-names"] is True and any("pattern" in option for option in style["anyOf"])


def test_metrics_are_written_in_the_prometheus_text_format():
    m = Metrics()
    m.describe("genlab_requests_total", "requests")
    m.inc("genlab_requests_total", model="a", status="200")
    m.inc("genlab_requests_total", model="a", status="200")
    m.observe("genlab_request_seconds", 0.03, model="a")
    m.observe("genlab_request_seconds", 7.0, model="a")
    m.gauge("genlab_queue_depth", lambda: 3)
    text = m.render()
    assert "# HELP genlab_requests_total requests\n# TYPE genlab_requests_total counter" in text
    assert 'genlab_requests_total{model="a",status="200"} 2' in text
    assert 'genlab_request_seconds_bucket{model="a",le="0.025"} 0' in text
    assert 'genlab_request_seconds_bucket{model="a",le="0.05"} 1' in text
    assert 'genlab_request_seconds_bucket{model="a",le="+Inf"} 2' in text
    assert 'genlab_request_seconds_count{model="a"} 2' in text and "genlab_queue_depth 3" in text


def test_loopback_addresses_and_token_files(tmp_path):
    assert all(map(is_loopback, ["127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "192.168.1.2", "example.org", "::"]))
    token = tmp_path / "token.txt"
    token.write_text("short\n")
    token.chmod(0o600)
    with pytest.raises(Exception, match="shorter than 16"):
        read_token_file(token)
    token.write_text("a-long-enough-secret-value\n")
    assert read_token_file(token) == "a-long-enough-secret-value"
    token.chmod(0o644)
    with pytest.raises(Exception, match="chmod 600"):
        read_token_file(token)


def test_the_cli_refuses_a_public_address_without_a_token(capsys):
    code, out = cli_ok(["serve", "--host", "0.0.0.0", "--port", "0"], capsys)
    assert code == 2 and "without a token" in out and "--token-file" in out
