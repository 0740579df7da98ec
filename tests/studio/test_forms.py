"""Widget specs and result views from real registered pipelines, without gradio or a browser."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from genlab.core.errors import BadInputError
from genlab.core.registry import PIPELINES
from genlab.studio.forms import form_specs, output_views, request_values


def specs_of(name: str) -> dict:
    return {s.name: s for s in form_specs(PIPELINES.get(name).request_class)}


def test_forms_import_no_gradio():
    import genlab.studio.forms as forms

    assert "genlab.studio.forms" in sys.modules and "gradio" not in forms.__dict__


def test_image_sample_form():
    specs = specs_of("image/sample")
    assert specs["n"].widget == "number" and specs["n"].integer and specs["n"].minimum == 1  # no upper bound
    assert specs["interpolate"].widget == "checkbox" and specs["interpolate"].default is False
    assert specs["precision"].widget == "dropdown" and specs["precision"].choices == ["32", "bf16"]
    assert specs["label"].widget == "textbox" and specs["label"].parse_json  # int | list[int]
    # an optional number without a default: a text box (a number box cannot be empty), empty = the default
    assert specs["guidance_scale"].widget == "textbox" and specs["guidance_scale"].parse_json
    assert request_values([specs["guidance_scale"]], {"guidance_scale": ""}, Path(".")).get("guidance_scale") is None
    assert request_values([specs["guidance_scale"]], {"guidance_scale": "2.5"}, Path("."))["guidance_scale"] == 2.5
    assert list(specs)[-1] == "seed"


def test_text_generate_form():
    specs = specs_of("text/generate")
    assert specs["prompt"].widget == "textbox" and specs["prompt"].lines > 1
    assert specs["stop"].widget == "lines"
    assert specs["top_p"].minimum == 0 and specs["top_p"].maximum == 1


def test_music_compose_form():
    specs = specs_of("music/compose")
    assert "soundfont" not in specs  # server: False
    assert specs["voices"].widget == "slider" and (specs["voices"].minimum, specs["voices"].maximum) == (2, 8)
    assert specs["prime"].widget == "file" and specs["prime"].file_kind == "music"
    assert specs["interpolate"].multiple and not specs["interpolate"].required  # a list of files, may be empty
    assert list(specs)[:4] == ["prime", "harmonize", "interpolate", "interpolate_to"]  # uploads first


def test_upscale_and_inpaint_uploads():
    upscale = specs_of("image/upscale")
    assert upscale["image"].widget == "image" and upscale["image"].required
    assert upscale["tile"].widget == "slider"
    assert upscale["scale"].widget == "textbox"  # optional, no default: a slider or number box cannot be empty
    inpaint = specs_of("image/inpaint")
    assert inpaint["mask"].names and not inpaint["image"].names


def test_hidden_and_cli_false_fields_left_out_seed_kept():
    tabular = specs_of("tabular/sample")
    assert tabular["n"].widget == "slider" and "seed" in tabular
    report = specs_of("tabular/report")
    assert "data_dir" not in report and report["real"].widget == "file" and report["real"].names
    classify = specs_of("audio/classify")  # its seed is cli: False, still offered
    assert list(classify) == ["audio", "seed"] and classify["audio"].widget == "audio"


def test_request_values_convert_widgets(tmp_path):
    specs = form_specs(PIPELINES.get("text/generate").request_class)
    values = request_values(
        specs,
        {"prompt": "Once", "max_new_tokens": 12.0, "stop": "\n.\n\n!\n", "top_k": None, "seed": 3.0, "n": ""},
        tmp_path,
    )
    assert values == {"prompt": "Once", "max_new_tokens": 12, "stop": [".", "!"], "seed": 3}
    assert PIPELINES.get("text/generate").request_class.build(values).stop == [".", "!"]
    label = request_values(form_specs(PIPELINES.get("image/sample").request_class), {"label": "[1, 2]"}, tmp_path)
    assert label == {"label": [1, 2]}
    with pytest.raises(BadInputError, match="whole number"):
        request_values(specs, {"max_new_tokens": 1.5}, tmp_path)


def test_uploads_checked_by_content(tmp_path):
    from PIL import Image

    specs = form_specs(PIPELINES.get("image/inpaint").request_class)
    png = tmp_path / "photo.upload"  # a name that says nothing: the content decides
    Image.new("RGB", (8, 8)).save(png, format="PNG")
    values = request_values(specs, {"image": str(png)}, tmp_path / "up", names={"mask": "left"})
    assert values["image"].endswith(".png") and values["mask"] == "left"
    text = tmp_path / "fake.png"
    text.write_text("not an image")
    with pytest.raises(BadInputError, match="not a readable image"):
        request_values(specs, {"image": str(text)}, tmp_path / "up")
    with pytest.raises(BadInputError, match="not a name"):
        request_values(specs, {"image": str(png)}, tmp_path / "up", names={"mask": "../etc/passwd"})


def test_output_views_music_shows_midi_roll_and_audio(tmp_path):
    from genlab.music.notes import Note, Piece

    piece = Piece([Note(60 + i, float(i), 1.0) for i in range(4)], tempo=240.0)
    music = PIPELINES.get("music/compose").output_class([piece], sample_rate=8000)
    views = output_views(music, tmp_path, "tune")
    assert [(v.kind, v.label) for v in views] == [("file", "MIDI"), ("image", "piano roll"), ("audio", "audio")]
    with open(views[0].value, "rb") as f:
        assert views[0].value.endswith("tune.mid") and f.read(4) == b"MThd"
    with open(views[2].value, "rb") as f:
        assert f.read(4) == b"RIFF"


def test_output_views_of_real_outputs(tmp_path):
    import torch

    images = PIPELINES.get("image/sample").output_class(torch.zeros(2, 3, 8, 8))
    views = output_views(images, tmp_path, "grid")
    assert [v.kind for v in views] == ["image"] and views[0].value.endswith(".png")
    text = PIPELINES.get("text/generate").output_class(["hello there"])
    views = output_views(text, tmp_path, "t")
    assert [v.kind for v in views] == ["text"] and "hello there" in views[0].value


def test_output_views_table_and_json(tmp_path):
    import pandas as pd

    table = PIPELINES.get("tabular/sample").output_class(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    views = output_views(table, tmp_path, "table")
    assert [v.kind for v in views] == ["table", "file"]
    assert views[0].value == {"headers": ["a", "b"], "data": [["1", "x"], ["2", "y"]]}

    class Only:
        formats = {"json": "application/json"}

        def encode(self, fmt):
            return json.dumps({"k": 1}).encode()

    assert [(v.kind, v.value) for v in output_views(Only(), tmp_path)] == [("json", {"k": 1})]


def test_studio_imports_no_modality_package():
    """The studio is an app layer: everything comes from registries and declarations (DESIGN.md)."""
    import re
    from pathlib import Path

    import genlab.studio
    from genlab.core.registry import modality_names

    names = "|".join(map(re.escape, modality_names()))
    pattern = re.compile(rf"^\s*(from|import)\s+genlab\.({names})\b", re.MULTILINE)
    files = [
        *Path(genlab.studio.__file__).parent.glob("*.py"),
        Path(genlab.studio.__file__).parents[1] / "cli/studio.py",
    ]
    assert len(files) >= 6 and not [f.name for f in files if pattern.search(f.read_text(encoding="utf-8"))]
