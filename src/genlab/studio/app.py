"""The genlab studio: a Gradio web UI over the runs of a runs folder, generated from the pipelines' declarations.

Tabs: **Generate** (pick a model and a verb; the form follows the verb's request), **Runs** (the runs, one run's
loss curve, samples and card, two runs compared, the model as a zip), **Train** (``genlab train`` in the
background with live progress and Cancel), **About** (version and data credits).

:class:`Studio` holds what the tabs do as plain methods (tests call them without a browser);
:func:`build_studio` lays out the widgets; :func:`mount` adds the studio to the FastAPI app of ``genlab serve``.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.core.compare import compare_runs
from genlab.core.errors import GenlabError
from genlab.core.runs import runs_root
from genlab.serve.store import ModelStore
from genlab.studio import jobs as train_jobs
from genlab.studio import runs as run_views
from genlab.studio.characters import ANY, Candidate, CharacterDesigner
from genlab.studio.credits import credits_text, data_source, run_sources
from genlab.studio.forms import OutputView, WidgetSpec, form_specs, output_views, request_values

log = logging.getLogger("genlab.studio")
GALLERY_SIZE = 12  # last result images kept in the Generate tab's gallery
KEEP_RESULTS = 200  # result folders kept in the work folder; older ones are removed
POLL_S = 1.5  # how often the Train tab reads the run's status and metrics
STREAM_EVERY_S = 0.1  # streamed text is shown at most this often (pieces in between are gathered)
#: Page style: pixel-art pictures scale up with sharp pixels.
CSS = """
.pixelated img { image-rendering: pixelated; }
#character-locked img { width: 256px; height: 256px; object-fit: contain; }
"""


def _version() -> str:
    from genlab.__about__ import __version__

    return __version__


def error_text(e: Exception) -> str:
    """Markdown for a failure: a :class:`GenlabError`'s message and hint; anything else in one line."""
    if isinstance(e, GenlabError):
        return f"**error:** {e.message}" + (f"\n\n**hint:** {e.hint}" if e.hint else "")
    return f"**error:** internal error: {type(e).__name__}: {e}"


@dataclass
class Result:
    """What one Run of the Generate tab gives: the views of the output, or a message saying what went wrong."""

    views: list[OutputView] = field(default_factory=list)
    message: str = ""

    @property
    def ok(self) -> bool:
        return not self.message.startswith("**error")

    def first(self, kind: str) -> Any:
        return next((v.value for v in self.views if v.kind == kind), None)


class Studio:
    """What the studio does, without widgets: list models and verbs, build forms, run pipelines, read runs,
    start and watch training jobs."""

    def __init__(self, store: ModelStore, runs_dir: str | Path | None = None, workdir: str | Path | None = None):
        self.store = store
        self.runs_dir = runs_root(runs_dir if runs_dir is not None else (store.paths[0] if store.paths else None))
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="genlab-studio-"))
        self.jobs: dict[str, train_jobs.TrainJob] = {}
        self.characters = CharacterDesigner(store, self.workdir)

    # ------------------------------------------------------------------------- Generate
    def model_names(self) -> list[str]:
        """The served models' names (after a rescan)."""
        self.store.refresh()
        return self.store.names()

    def empty_message(self) -> str:
        """What the Generate tab says when there is no model: where it looked and how to train one."""
        from genlab.serve.app import TRAIN_HINT

        where = ", ".join(str(p) for p in self.store.paths) or "(no path given)"
        return f"No trained model under {where}: {TRAIN_HINT} (or use the Train tab), then it appears here."

    def verbs(self, model: str) -> tuple[list[str], str]:
        """The verbs ``model`` answers and its task's default verb."""
        entry = self._entry(model)
        default = self.store.pipeline(entry, None)
        verbs = [cls.verb for cls in self.store.pipeline_classes(entry) if cls.served]
        return sorted(set(verbs)), default.verb

    def form(self, model: str, verb: str) -> list[WidgetSpec]:
        """The widget specs of ``verb`` on ``model``."""
        return form_specs(self.store.pipeline(self._entry(model), verb).request_class)

    def _entry(self, model: str):
        entry = self.store.get(model or "")
        if entry is None:
            from genlab.core.errors import unknown_name

            raise unknown_name("model", model, self.store.names())
        return entry

    def generate(self, model: str, verb: str, values: dict[str, Any], names: dict[str, Any] | None = None) -> Result:
        """Run ``verb`` of ``model`` on widget ``values`` (by field name; uploads as file paths) and return
        what to show; a failure comes back as a message with its hint, never a traceback."""
        self._prune_results()
        folder = self.workdir / "results" / f"{time.time_ns()}-{uuid.uuid4().hex[:6]}"
        began = time.perf_counter()
        try:
            pipe = self.store.pipeline(self._entry(model), verb)
            specs = form_specs(pipe.request_class)
            request = pipe.request(**request_values(specs, values, folder / "uploads", names))
            output = pipe.run(request)
            views = output_views(output, folder, stem=verb + ("" if request.seed is None else f"-seed{request.seed}"))
        except Exception as e:
            if not isinstance(e, GenlabError):
                log.exception("studio: %s %s failed", model, verb)
            return Result(message=error_text(e))
        return Result(views, f"{model} · {verb} · {time.perf_counter() - began:.1f} s")

    def generate_stream(self, model: str, verb: str, values: dict[str, Any],
                        names: dict[str, Any] | None = None) -> Iterator[Result]:  # fmt: skip
        """Like :meth:`generate`, as a series of Results: for a pipeline that streams (text generation) the text
        so far after each piece, then the whole text and its file; for any other pipeline the one Result."""
        try:
            pipe = self.store.pipeline(self._entry(model), verb)
            streams = pipe.streams
        except Exception:
            streams = False
        if not streams:
            yield self.generate(model, verb, values, names)
            return
        self._prune_results()
        folder = self.workdir / "results" / f"{time.time_ns()}-{uuid.uuid4().hex[:6]}"
        began, texts = time.perf_counter(), {}
        try:
            request = pipe.request(**request_values(form_specs(pipe.request_class), values, folder / "uploads", names))
            shown = 0.0
            for i, piece in pipe.stream_request(request):
                texts[i] = texts.get(i, "") + piece
                if time.perf_counter() - shown >= STREAM_EVERY_S:  # the page redraws the whole text each time
                    shown = time.perf_counter()
                    yield Result([OutputView("text", "text", self._joined(texts))], f"{model} · {verb} · generating …")
        except Exception as e:
            if not isinstance(e, GenlabError):
                log.exception("studio: %s %s failed", model, verb)
            yield Result(message=error_text(e))
            return
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (verb + ("" if request.seed is None else f"-seed{request.seed}") + ".txt")
        path.write_text(self._joined(texts), encoding="utf-8")
        views = [OutputView("text", "text", self._joined(texts)), OutputView("file", "txt", str(path))]
        yield Result(views, f"{model} · {verb} · {time.perf_counter() - began:.1f} s")

    @staticmethod
    def _joined(texts: dict[int, str]) -> str:
        return "".join(texts[i] for i in sorted(texts))

    def _prune_results(self) -> None:
        import shutil

        results = self.workdir / "results"
        if not results.is_dir():
            return
        folders = sorted(results.iterdir())  # named by creation time
        for old in folders[: max(len(folders) - KEEP_RESULTS + 1, 0)]:
            shutil.rmtree(old, ignore_errors=True)

    # ------------------------------------------------------------------------- Train
    def train_choices(self, task: str | None = None) -> dict[str, list[str]]:
        """Registered ``tasks``; for ``task``, its ``models`` (short names, the task's default model first) and
        ``data`` (datasets of its modality)."""
        from genlab.core.registry import DATASETS, TASKS

        out: dict[str, list[str]] = {"tasks": TASKS.names(), "models": [], "data": []}
        if task:
            spec = TASKS.get(task)
            models = spec.model_names()
            out["models"] = sorted(models, key=lambda m: m != spec.default_model)
            out["data"] = DATASETS.names(modality=spec.modality)
        return out

    def start_training(self, task: str, model: str, data: str, name: str, max_minutes: float | None,
                       extra: list[str] | None = None) -> str:  # fmt: skip
        """Start ``genlab train`` in the background; returns the job id (``<task>/<name>``)."""
        job_id = f"{task}/{name}"
        current = self.jobs.get(job_id)
        if current is not None and current.running:
            from genlab.core.errors import BadInputError

            raise BadInputError(f"{job_id} is training already", "cancel it first, or give another run name")
        self.jobs[job_id] = train_jobs.start_training(task, model, data, name, self.runs_dir, max_minutes, extra)
        return job_id

    def job_progress(self, job_id: str | None) -> dict[str, Any] | None:
        job = self.jobs.get(job_id or "")
        return job.progress() if job is not None else None

    def cancel_training(self, job_id: str | None) -> bool:
        """SIGINT to the job (it saves a checkpoint and the model); False when there is no running job."""
        job = self.jobs.get(job_id or "")
        if job is None or not job.running:
            return False
        job.cancel()
        return True

    # ------------------------------------------------------------------------- About
    def about_text(self) -> str:
        """Markdown: the genlab version and the credits of the data the models here were trained on."""
        sources = set(run_sources(self.runs_dir))
        for entry in list(self.store.entries.values()):
            source = data_source(entry.meta)
            if source:
                sources.add(source)
        return f"## genlab {_version()}\n\n### Data credits\n\n{credits_text(sorted(sources))}"


# ----------------------------------------------------------------------------- widgets
def _widget(gr: Any, spec: WidgetSpec) -> list[Any]:
    """The gradio components of one spec (an upload that takes names gets a text box beside it)."""
    label = spec.label + (" *" if spec.required else "")
    info = spec.help or None
    if spec.widget == "slider":
        step = 1 if spec.integer else (spec.maximum - spec.minimum) / 100
        return [gr.Slider(spec.minimum, spec.maximum, value=spec.default, step=step, label=label, info=info,
                          interactive=True)]  # fmt: skip
    if spec.widget == "number":
        return [gr.Number(value=spec.default, minimum=spec.minimum, maximum=spec.maximum, label=label, info=info,
                          precision=0 if spec.integer else None, interactive=True)]  # fmt: skip
    if spec.widget == "checkbox":
        return [gr.Checkbox(value=bool(spec.default), label=label, info=info, interactive=True)]
    if spec.widget == "dropdown":
        return [gr.Dropdown(choices=spec.choices, value=spec.default, label=label, info=info, interactive=True)]
    if spec.widget in ("textbox", "lines"):
        info = (info or "") + (" (one per line)" if spec.widget == "lines" else "")
        return [gr.Textbox(value=spec.default or "", lines=spec.lines, label=label, info=info or None,
                           interactive=True)]  # fmt: skip
    if spec.widget == "image":
        upload = gr.Image(type="filepath", sources=["upload"], label=label)
    elif spec.widget == "audio":
        upload = gr.Audio(type="filepath", sources=["upload"], label=label)
    else:
        upload = gr.File(type="filepath", file_count="multiple" if spec.multiple else "single", label=label)
    if not spec.names:
        return [upload]
    return [upload, gr.Textbox(label=f"{spec.label}: or a name", placeholder="builtin:NAME", info=info)]


def _verb_update(gr: Any, studio: Studio, name: str | None) -> Any:
    """The verb dropdown for model ``name``: its verbs, the task's default chosen."""
    if not name:
        return gr.update(choices=[], value=None)
    try:
        verbs, default = studio.verbs(name)
    except Exception as e:  # a model that no longer loads: say why, offer nothing
        gr.Warning(error_text(e))
        return gr.update(choices=[], value=None)
    return gr.update(choices=verbs, value=default)


def _result_updates(gr: Any, result: Result, history: list) -> tuple:
    """(message, image, audio, text, table, json, files, gallery, history) updates for a Result."""
    image, audio, text = result.first("image"), result.first("audio"), result.first("text")
    table, data = result.first("table"), result.first("json")
    files = [v.value for v in result.views if v.kind == "file"]
    if image is not None:
        history = ([(image, result.message)] + list(history))[:GALLERY_SIZE]
    return (
        result.message,
        gr.update(value=image, visible=image is not None),
        gr.update(value=audio, visible=audio is not None),
        gr.update(value=text, visible=text is not None),
        gr.update(value=table, visible=table is not None),
        gr.update(value=data, visible=data is not None),
        gr.update(value=files or None, visible=bool(files)),
        history,
        history,
    )


def _generate_tab(gr: Any, studio: Studio) -> None:
    names = studio.model_names()
    empty = gr.Markdown(studio.empty_message(), visible=not names)
    with gr.Row():
        model = gr.Dropdown(choices=names, value=names[0] if names else None, label="model", elem_id="generate-model")
        verb = gr.Dropdown(choices=[], label="what to do", elem_id="generate-verb")
        refresh = gr.Button("Refresh models", size="sm")
    with gr.Row():
        with gr.Column():
            form_area = gr.Column()
        with gr.Column():
            message = gr.Markdown(elem_id="generate-message")
            outputs = [
                gr.Image(label="image", visible=False, type="filepath", elem_id="generate-image"),
                gr.Audio(label="audio", visible=False, type="filepath"),
                gr.Textbox(label="text", visible=False, lines=8, elem_id="generate-text"),
                gr.Dataframe(label="table", visible=False, interactive=False),
                gr.JSON(label="JSON", visible=False),
                gr.File(label="files", visible=False, file_count="multiple"),
            ]
            gallery = gr.Gallery(label="last results", columns=4, height="auto", interactive=False)
    history = gr.State([])

    def pick_model(name):
        return _verb_update(gr, studio, name)

    def rescan():
        found = studio.model_names()
        return gr.update(choices=found, value=found[0] if found else None), gr.update(visible=not found)

    model.change(pick_model, model, verb)
    refresh.click(rescan, None, [model, empty])

    with form_area:

        @gr.render(inputs=[model, verb])
        def show_form(model_name, verb_name):
            if not model_name or not verb_name:
                return
            try:
                specs = studio.form(model_name, verb_name)
            except Exception as e:
                gr.Markdown(error_text(e))
                return
            components, slots = [], []
            for spec in specs:
                made = _widget(gr, spec)
                components += made
                slots += [(spec.name, "value")] + [(spec.name, "name")] * (len(made) - 1)
            run = gr.Button("Run", variant="primary", elem_id="generate-run")

            def run_form(m, v, past, *values):
                widget_values, name_values = {}, {}
                for (field_name, slot), value in zip(slots, values, strict=True):
                    (widget_values if slot == "value" else name_values)[field_name] = value
                for result in studio.generate_stream(m, v, widget_values, name_values):  # text shows as it comes
                    yield _result_updates(gr, result, past)

            run.click(run_form, [model, verb, history, *components], [message, *outputs, gallery, history])

    return model, verb, empty


CHARACTER_HINT = (
    "No character model yet: train one with "
    "`genlab train character --data builtin:lpc-characters --max-minutes 30 --name chars` "
    "(or from the Train tab, task `character`), then press Refresh."
)


def _characters_tab(gr: Any, studio: Studio, blocks: Any) -> None:
    """Pick features, draw candidates, lock one, vary one feature of it, export a PNG or a sprite sheet."""
    designer = studio.characters
    names = designer.models()
    gr.Markdown("Pick features (the others are drawn from the seed), draw candidates, click one to lock it, "
                "then vary one feature of the locked character and export it.")  # fmt: skip
    empty = gr.Markdown(CHARACTER_HINT, visible=not names)
    with gr.Row():
        model = gr.Dropdown(choices=names, value=names[0] if names else None, label="character model")
        seed = gr.Number(value=0, precision=0, minimum=0, label="seed")
        count = gr.Slider(1, 8, value=4, step=1, label="candidates")
        refresh = gr.Button("Refresh", size="sm")
    features = gr.Column()
    message = gr.Markdown(elem_id="character-message")
    candidates = gr.Gallery(label="candidates: click one to lock it", columns=8, height="auto", allow_preview=False,
                            elem_classes=["pixelated"], elem_id="character-candidates")  # fmt: skip
    shown = gr.State([])  # the candidates on show, as state dicts
    locked = gr.State(None)
    with gr.Row():
        locked_image = gr.Image(label="locked character", type="filepath", interactive=False, height=256,
                                elem_classes=["pixelated"], elem_id="character-locked")  # fmt: skip
        locked_info = gr.Markdown()
    with gr.Row():
        vary_attribute = gr.Dropdown(
            choices=[], label="vary one feature of the locked character", elem_id="character-vary"
        )
        vary = gr.Button("Vary")
    variants = gr.Gallery(label="variants: click one to lock it", columns=8, height="auto", allow_preview=False,
                          elem_classes=["pixelated"], elem_id="character-variants")  # fmt: skip
    variant_states = gr.State([])
    with gr.Row():
        scale = gr.Slider(1, 8, value=4, step=1, label="PNG scale")
        png = gr.Button("Export PNG")
        sheet = gr.Button("Export sprite sheet (4 directions)")
    export = gr.File(label="export", elem_id="character-export")

    def gallery(found: list[Candidate], keys: list[str] | None = None) -> list[tuple[str, str]]:
        return [(str(c.image), c.caption(keys)) for c in found]

    def lock_view(c: Candidate) -> tuple:
        rows = "\n".join(f"| {a} | {v if v is not None else '—'} |" for a, v in c.attributes.items())
        fixed = ", ".join(c.chosen) or "none"
        info = f"**seed {c.seed}**, chosen: {fixed}\n\n| feature | value |\n|---|---|\n{rows}"
        return str(c.image), info, c.to_state()

    def pick_model(name):
        attrs = list(designer.menus(name)) if name else []
        return gr.update(choices=attrs, value=attrs[0] if attrs else None)

    def rescan(current=None):
        found = designer.models()
        name = current if current in found else (found[0] if found else None)
        return gr.update(choices=found, value=name), gr.update(visible=not found), pick_model(name)

    def pick(found, evt):
        return lock_view(Candidate.from_state(found[evt.index]))

    pick.__annotations__["evt"] = gr.SelectData  # gradio passes the clicked index to a parameter of this type

    def varied(name, state, attribute):
        if not state:
            return gr.update(), [], "**error:** lock a candidate first (click one)"
        try:
            found = designer.vary(name, Candidate.from_state(state), attribute)
        except GenlabError as e:
            return gr.update(), [], error_text(e)
        return gallery(found, [attribute]), [c.to_state() for c in found], f"{attribute}: {len(found)} values"

    def exported(name, state, how, factor):
        if not state:
            raise gr.Error("lock a candidate first (click one)")
        try:
            c = Candidate.from_state(state)
            path = designer.export_sheet(name, c) if how == "sheet" else designer.export_png(name, c, int(factor))
            return str(path)
        except GenlabError as e:
            raise gr.Error(error_text(e)) from None

    model.change(pick_model, model, vary_attribute)
    refresh.click(rescan, model, [model, empty, vary_attribute])
    blocks.load(rescan, model, [model, empty, vary_attribute])  # a page opened later sees the models of now
    candidates.select(pick, shown, [locked_image, locked_info, locked])
    variants.select(pick, variant_states, [locked_image, locked_info, locked])
    vary.click(varied, [model, locked, vary_attribute], [variants, variant_states, message])
    png.click(lambda m, s, f: exported(m, s, "png", f), [model, locked, scale], export)
    sheet.click(lambda m, s, f: exported(m, s, "sheet", f), [model, locked, scale], export)

    with features:

        @gr.render(inputs=[model])
        def show_features(name):
            if not name:
                return
            try:
                menus = designer.menus(name)
            except Exception as e:
                gr.Markdown(error_text(e))
                return
            menus_made = []
            with gr.Row(equal_height=False):
                for attribute, values in menus.items():
                    menus_made.append(gr.Dropdown(choices=[ANY, *values], value=ANY, label=attribute, min_width=140,
                                                  elem_id=f"feature-{attribute}", interactive=True))  # fmt: skip
            draw = gr.Button("Draw candidates", variant="primary", elem_id="character-draw")

            def drawn(m, s, n, *values):
                chosen = designer.chosen(dict(zip(menus, values, strict=True)))
                try:
                    found = designer.candidates(m, chosen, int(s or 0), int(n))
                except GenlabError as e:
                    return [], [], error_text(e)
                note = f"{len(found)} candidates, seeds {int(s or 0)}…{int(s or 0) + len(found) - 1}"
                return gallery(found), [c.to_state() for c in found], note

            draw.click(drawn, [model, seed, count, *menus_made], [candidates, shown, message])


def _runs_tab(gr: Any, studio: Studio, blocks: Any) -> None:
    root = studio.runs_dir

    def ids():
        return [row[0] for row in run_views.runs_table(root)["data"]]

    refresh = gr.Button("Refresh", size="sm")
    table = gr.Dataframe(value=run_views.runs_table(root), interactive=False, label=f"runs in {root}")
    pick = gr.Dropdown(choices=ids(), label="run", elem_id="runs-pick")
    with gr.Row():
        loss = gr.Image(label="loss curve", type="filepath", elem_id="runs-loss")
        samples = gr.Gallery(label="samples", columns=4, height="auto", interactive=False)
    with gr.Row():
        card = gr.Markdown(elem_id="runs-card")
        metrics = gr.JSON(label="eval metrics")
    download = gr.Button("Download the model (zip)")
    zip_file = gr.File(label="model zip")
    gr.Markdown("### Compare two runs")
    with gr.Row():
        run_a, run_b = gr.Dropdown(choices=ids(), label="run A"), gr.Dropdown(choices=ids(), label="run B")
        compare = gr.Button("Compare")
    config_diff = gr.Dataframe(label="config differences", interactive=False)
    metric_diff = gr.Dataframe(label="eval metrics", interactive=False)

    def reload():
        found = ids()
        return (run_views.runs_table(root), *(gr.update(choices=found) for _ in range(3)))

    def show(rid):
        if not rid:
            return None, [], "", {}
        try:
            d = run_views.run_details(root, rid)
        except GenlabError as e:
            return None, [], error_text(e), {}
        return d["loss_plot"], d["samples"], d["card"], d["metrics"]

    def zipped(rid):
        if not rid:
            raise gr.Error("pick a run first")
        try:
            return run_views.model_zip(root, rid, studio.workdir / "zips")
        except GenlabError as e:
            raise gr.Error(error_text(e)) from None

    def compared(a, b):
        if not a or not b:
            raise gr.Error("pick two runs")
        try:
            c = compare_runs(root, [a, b])
        except GenlabError as e:
            raise gr.Error(error_text(e)) from None
        return c["config"], c["metrics"]

    refresh.click(reload, None, [table, pick, run_a, run_b])
    blocks.load(reload, None, [table, pick, run_a, run_b])  # a page opened later sees the runs of now
    pick.change(show, pick, [loss, samples, card, metrics])
    download.click(zipped, pick, zip_file)
    compare.click(compared, [run_a, run_b], [config_diff, metric_diff])


def _train_tab(gr: Any, studio: Studio) -> None:
    tasks = studio.train_choices()["tasks"]
    with gr.Row():
        task = gr.Dropdown(choices=tasks, label="task", elem_id="train-task")
        model = gr.Dropdown(choices=[], label="model", elem_id="train-model")
        data = gr.Dropdown(choices=[], label="data", allow_custom_value=True, elem_id="train-data",
                           info="a registered dataset, or a path on the server")  # fmt: skip
    with gr.Row():
        minutes = gr.Number(value=2, minimum=0.1, label="time budget (minutes)", elem_id="train-minutes")
        name = gr.Textbox(label="run name", info="the same name resumes that run", elem_id="train-name")
    with gr.Row():
        start, cancel = gr.Button("Start", variant="primary"), gr.Button("Cancel", variant="stop")
    progress = gr.Markdown(elem_id="train-progress")
    output = gr.Textbox(label="training output", lines=10, max_lines=10, autoscroll=True, elem_id="train-output")
    job = gr.State(None)
    timer = gr.Timer(POLL_S, active=False)

    def pick_task(t):
        choices = studio.train_choices(t)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return (gr.update(choices=choices["models"], value=choices["models"][0] if choices["models"] else None),
                gr.update(choices=choices["data"], value=choices["data"][0] if choices["data"] else None),
                f"studio-{stamp}")  # fmt: skip

    def begin(t, m, d, n, mins):
        try:
            job_id = studio.start_training(t, m, d, n, mins)
        except GenlabError as e:
            return None, error_text(e), "", gr.Timer(active=False)
        return job_id, f"started {job_id}", "", gr.Timer(active=True)

    def poll(job_id):
        p = studio.job_progress(job_id)
        if p is None:
            return "", "", gr.Timer(active=False)
        return train_jobs.format_progress(p), p["log"], gr.Timer(active=p["returncode"] is None)

    def stop(job_id):
        return "cancelling: the run saves a checkpoint and its model" if studio.cancel_training(job_id) else ""

    task.change(pick_task, task, [model, data, name])
    start.click(begin, [task, model, data, name, minutes], [job, progress, output, timer])
    timer.tick(poll, job, [progress, output, timer])
    cancel.click(stop, job, progress)


def build_studio(store: ModelStore, runs_dir: str | Path | None = None, workdir: str | Path | None = None,
                 title: str = "genlab studio") -> Any:  # fmt: skip
    """The studio's ``gradio.Blocks`` over ``store``'s models and the runs in ``runs_dir`` (default: the store's
    first path). ``blocks.studio`` is the :class:`Studio` behind it; ``blocks.studio_paths`` the folders whose
    files it shows (give them to ``launch(allowed_paths=…)``)."""
    gr = _gradio()
    studio = Studio(store, runs_dir, workdir)
    with gr.Blocks(title=title) as blocks:
        gr.Markdown(f"# {title}")
        with gr.Tab("Generate"):
            model, verb, empty = _generate_tab(gr, studio)
        with gr.Tab("Characters"):
            _characters_tab(gr, studio, blocks)
        with gr.Tab("Runs"):
            _runs_tab(gr, studio, blocks)
        with gr.Tab("Train"):
            _train_tab(gr, studio)
        with gr.Tab("About"):
            about = gr.Markdown(studio.about_text())
            gr.Button("Refresh", size="sm").click(studio.about_text, None, about)
            blocks.load(studio.about_text, None, about)

        def opened(current):  # a page opened later sees the models of now
            found = studio.model_names()
            name = current if current in found else (found[0] if found else None)
            return gr.update(choices=found, value=name), gr.update(visible=not found), _verb_update(gr, studio, name)

        blocks.load(opened, model, [model, empty, verb])
    blocks.studio = studio
    blocks.studio_paths = [str(studio.runs_dir.resolve()), str(studio.workdir.resolve())]
    return blocks


def token_auth(token: str | None):
    """Gradio ``auth`` for a token: any user name with the token as password (None when there is no token)."""
    if not token:
        return None
    import hmac

    return lambda _user, password: hmac.compare_digest(str(password).encode(), token.encode())


def _gradio() -> Any:
    """gradio, imported with its usage analytics and hub lookups off: the studio never reaches the network."""
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from genlab.core.optional import require

    return require("gradio", "studio", "genlab studio")


def mount(app: Any, store: ModelStore, path: str = "/studio", runs_dir: str | Path | None = None,
          token: str | None = None) -> Any:  # fmt: skip
    """Mount the studio into ``app`` (the FastAPI app of ``genlab serve``) at ``path``; with ``token`` it asks
    for the token (as password) first. Returns ``app``."""
    gr = _gradio()
    blocks = build_studio(store, runs_dir)
    return gr.mount_gradio_app(app, blocks, path=path, auth=token_auth(token), allowed_paths=blocks.studio_paths,
                               css=CSS)  # fmt: skip
