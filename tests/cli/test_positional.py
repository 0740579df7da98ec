"""`--model RUN`, positional request fields and a positional OUT, through the toy modality's file-to-file
pipeline (``genlab shift RUN SOURCE OFFSET [OUT]``, tests/toy_modality/) and pipelines declared here."""

import csv
from typing import Literal

import click
import pytest
from pydantic import Field
from pydantic.fields import FieldInfo

from genlab.cli.options import field_argument, model_arguments, model_flag_value, model_options
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.core.registry import PIPELINES
from tests.cli_helpers import cli_ok


@pytest.fixture
def toy(toy_modality, tmp_path):
    """A toy model directory and a CSV of numbers."""
    from tests.toy_modality.modality import ToyGaussian, ToyGaussianConfig

    model = tmp_path / "model"
    ToyGaussian(ToyGaussianConfig()).save_pretrained(model)
    numbers = tmp_path / "in.csv"
    numbers.write_text("value\n1\n2\n3\n")
    return model, numbers


def values(path):
    return [float(row["value"]) for row in csv.DictReader(path.open())]


def test_run_given_with_model_anywhere(toy, tmp_path, capsys):
    model, numbers = toy
    out = tmp_path / "out.csv"
    for args in [
        ["shift", str(numbers), "2.5", str(out), "--model", str(model)],
        ["shift", "--model", str(model), str(numbers), "2.5", str(out)],
        ["shift", str(numbers), f"--model={model}", "2.5", str(out)],
        ["shift", "-m", str(model), str(numbers), "2.5", str(out), "--scale", "2"],
        ["shift", str(numbers), "2.5", "--out", str(out), f"-m{model}"],
    ]:
        out.unlink(missing_ok=True)
        code, text = cli_ok(args, capsys)
        assert code == 0, (args, text)
        scale = 2.0 if "--scale" in args else 1.0
        assert values(out) == [v * scale + 2.5 for v in (1, 2, 3)], args


def test_run_as_first_argument_still_works(toy, tmp_path, capsys):
    model, numbers = toy
    out = tmp_path / "out.csv"
    code, text = cli_ok(["shift", str(model), str(numbers), "0.5", str(out), "--scale", "3"], capsys)
    assert code == 0, text
    assert values(out) == [3.5, 6.5, 9.5]
    # a pipeline without positional fields: the first argument is RUN, or --model gives it
    for args in (["sample", str(model)], ["sample", "--model", str(model)]):
        code, text = cli_ok([*args, "--n", "3", "--seed", "0", "--out", str(tmp_path / "s.csv")], capsys)
        assert code == 0 and len(values(tmp_path / "s.csv")) == 3, text


def test_positional_fields_go_in_declaration_order(toy, tmp_path, capsys):
    model, numbers = toy
    code, text = cli_ok(["shift", str(model), "2.5", str(numbers), str(tmp_path / "o.csv")], capsys)
    assert code == 2 and "OFFSET" in text and "internal error" not in text, text  # in.csv is not a number
    out = tmp_path / "neg.csv"
    code, text = cli_ok(["shift", "-m", str(model), str(numbers), "--", "-1", str(out)], capsys)
    assert code == 0 and values(out) == [0.0, 1.0, 2.0], text  # a negative number after `--`


def test_positional_out_is_the_same_as_the_out_option(toy, tmp_path, capsys):
    model, numbers = toy
    by_argument, by_option = tmp_path / "a.csv", tmp_path / "b.csv"
    assert cli_ok(["shift", str(model), str(numbers), "1", str(by_argument)], capsys)[0] == 0
    assert cli_ok(["shift", str(model), str(numbers), "1", "--out", str(by_option)], capsys)[0] == 0
    assert by_argument.read_bytes() == by_option.read_bytes()


def test_out_given_twice_is_a_usage_error(toy, tmp_path, capsys):
    model, numbers = toy
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    code, text = cli_ok(["shift", str(model), str(numbers), "1", str(a), "--out", str(b)], capsys)
    assert code == 2 and "error:" in text and "OUT" in text and "--out" in text, text
    assert not a.exists() and not b.exists()


def test_default_output_file_when_no_out_is_given(toy, tmp_path, capsys, monkeypatch):
    model, numbers = toy
    monkeypatch.chdir(tmp_path)
    code, text = cli_ok(["shift", "--model", str(model), str(numbers), "1"], capsys)
    assert code == 0, text
    assert values(tmp_path / "shift-seedNone.csv") == [2.0, 3.0, 4.0]


def test_a_missing_positional_is_named_with_the_usage_line(toy, capsys):
    model, numbers = toy
    code, text = cli_ok(["shift", str(model), str(numbers)], capsys)
    assert code == 2 and "error: missing OFFSET" in text and "genlab shift RUN SOURCE OFFSET [OUT] [OPTIONS]" in text
    assert "hint:" in text and "internal error" not in text
    code, text = cli_ok(["shift", "--model", str(model)], capsys)
    assert code == 2 and "missing SOURCE" in text and "genlab shift SOURCE OFFSET [OUT] --model RUN" in text, text


def test_model_without_a_value_is_a_usage_error(toy, capsys):
    for args in (["shift", "--model"], ["shift", "--model", "--scale", "2"], ["shift", "--model="]):
        code, text = cli_ok(args, capsys)
        assert code == 2 and "--model RUN" in text and "internal error" not in text, (args, text)


def test_a_missing_run_suggests_model_for_verbs_with_arguments(toy, tmp_path, capsys):
    model, numbers = toy
    code, text = cli_ok(["shift", str(tmp_path / "nothing.csv"), "1", "out.csv"], capsys)
    assert code == 2 and "--model RUN" in text and "genlab runs" in text, text


def test_help_lists_arguments_and_both_usage_forms(toy, capsys):
    model, _ = toy
    for args in (["shift", str(model), "--help"], ["shift", "--model", str(model), "--help"], ["shift", "--help"]):
        code, text = cli_ok(args, capsys)
        assert code == 0, text
        assert "genlab shift RUN SOURCE OFFSET [OUT] [OPTIONS]" in text
        assert "genlab shift SOURCE OFFSET [OUT] --model RUN [OPTIONS]" in text
        assert "Arguments:" in text and "CSV file of numbers" in text and "amount added to every number" in text
        assert "the same as --out" in text and "--scale" in text and "-m, --model RUN" in text
    code, text = cli_ok(["shift", str(model), "--help"], capsys)
    assert "RUN" in text.split("Arguments:")[1] and "--source" not in text and "--offset" not in text


def test_the_model_flag_picks_the_modality_to_import(toy, monkeypatch, capsys):
    import genlab.cli.main as main

    asked = []
    original = main.verbs
    monkeypatch.setattr(main, "verbs", lambda run=None: asked.append(run) or original(run))
    model, numbers = toy
    cli_ok(["shift", str(numbers), "1", "--model", str(model), "--help"], capsys)
    assert asked[0] == str(model)


def test_model_flag_value_reads_the_forms_click_reads():
    assert model_flag_value(["a", "--model", "r", "b"]) == "r"
    assert model_flag_value(["--model=r"]) == model_flag_value(["-m", "r"]) == model_flag_value(["-mr"]) == "r"
    assert model_flag_value(["a", "b", "--out", "o"]) is None
    assert model_flag_value(["a", "--", "--model", "r"]) is None
    assert model_flag_value(["--model"], strict=False) is None
    with pytest.raises(click.UsageError):
        model_flag_value(["a", "--model"])


class Declared(Request):
    image: str = Field(description="input image", json_schema_extra={"positional": True})
    mode: Literal["a2b", "b2a"] = Field("a2b", description="direction", json_schema_extra={"positional": True})
    hidden: str | None = Field(None, description="off the CLI", json_schema_extra={"positional": True, "cli": False})
    strength: float = Field(0.5, description="how much")


def test_positional_fields_become_arguments_and_not_options():
    arguments = model_arguments(Declared)
    assert [(a.name, a.human_readable_name, a.required) for a in arguments] == [
        ("image", "IMAGE", True),
        ("mode", "MODE", False),
    ]
    assert "[default: a2b]" in arguments[1].help_text and "a2b, b2a" in arguments[1].help_text
    assert [o.name for o in model_options(Declared)] == ["seed", "strength"]
    many = FieldInfo.from_annotated_attribute(list[str], Field([], json_schema_extra={"positional": True}))
    with pytest.raises(TypeError, match="positional"):
        field_argument("many", many)


def test_a_pipeline_registered_here_takes_its_arguments(toy, tmp_path, capsys, monkeypatch):
    from tests.toy_modality.modality import TASK, NumbersOutput

    @register_pipeline("toy/echo-test")
    class Echo(Pipeline):
        task = TASK
        verb = "echo-test"
        description = "write the image's name length and the mode"
        request_class = Declared
        output_class = NumbersOutput

        def run(self, request):
            import torch

            return NumbersOutput(torch.tensor([len(request.image), request.mode == "b2a", request.strength]))

    try:
        model, _ = toy
        out = tmp_path / "e.csv"
        code, text = cli_ok(["echo-test", "abc", "b2a", "--strength", "2", "-m", str(model), "-o", str(out)], capsys)
        assert code == 0 and values(out) == [3.0, 1.0, 2.0], text
        code, text = cli_ok(["echo-test", str(model), "abcd", "--out", str(out)], capsys)
        assert code == 0 and values(out) == [4.0, 0.0, 0.5], text  # the optional positional keeps its default
        code, text = cli_ok(["echo-test", str(model), "abcd", "c2d"], capsys)
        assert code == 2 and "MODE" in text and "internal error" not in text, text
        code, text = cli_ok(["echo-test", str(model), "abcd", "a2b", "extra.csv"], capsys)
        assert code == 2 and "extra.csv" in text, text  # no positional OUT on this pipeline
    finally:
        PIPELINES.unregister("toy/echo-test")
    assert "toy/echo-test" not in dict(PIPELINES.loaded())


def test_every_argument_of_every_pipeline_command_has_help_text():
    from genlab.cli.infer import pipeline_command

    for _, cls in PIPELINES.items():
        for run_as_option in (False, True):
            command = pipeline_command(cls, None, run_as_option=run_as_option)
            for param in command.params:
                if isinstance(param, click.Argument):
                    assert getattr(param, "help_text", "").strip(), f"{cls.name} {param.name} has no help text"
