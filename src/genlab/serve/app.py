"""The FastAPI application of ``genlab serve``.

Endpoints (``/v1`` needs ``Authorization: Bearer TOKEN`` when the server has a token):

* ``GET /v1/models`` — every served model: name, task, model class, verbs.
* ``GET /v1/models/{name}`` — one model: its card and, per verb, the request schema, output formats, streaming.
* ``POST /v1/models/{name}/generate`` — the task's default pipeline; ``POST /v1/models/{name}/{verb}`` any other
  (``upscale``, ``compose``, ``respond``, …). The body is JSON, or multipart/form-data with files for the file
  fields. Besides the request's own fields it takes ``format`` (an output format, default the first),
  ``response`` (``binary``: the media itself with its content type, the default; ``base64``: JSON with the bytes
  in base64) and ``stream`` (``true``: server-sent events, for pipelines that stream).
* ``GET /healthz`` (alive), ``GET /readyz`` (ready, 503 while stopping), ``GET /metrics`` (Prometheus text).

Errors: unknown model or verb → 404 with the names there are; a bad field → 422 naming it; a refused request
(an unconditional model asked for a label) → 400 with the message and a hint; body or upload over the limit →
413; wrong type of upload → 415; queue full → 503 with ``Retry-After``; over the time limit → 504.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import shutil
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from genlab.core.errors import BadInputError, GenlabError
from genlab.serve.fields import (
    NAME_VALUE,
    UploadError,
    decode_base64,
    file_fields,
    hidden_fields,
    request_schema,
    sniff,
    takes_names,
)
from genlab.serve.metrics import Metrics
from genlab.serve.settings import ServeSettings
from genlab.serve.store import Entry, ModelStore
from genlab.serve.worker import END_OF_STREAM, Gate, Job, ModelWorker, QueueFull

access_log = logging.getLogger("genlab.serve.access")
log = logging.getLogger("genlab.serve")
CONTROL_FIELDS = ("format", "response", "stream")
RETRY_AFTER_S = 1
TRAIN_HINT = "train one, e.g. `genlab train image-generation --model dcgan --data builtin:digits --max-minutes 2`"


class HTTPProblem(Exception):
    """An answer other than 200: status, message, hint, and extra JSON fields or headers."""

    def __init__(self, status: int, message: str, hint: str = "", headers: dict | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint
        self.headers, self.extra = headers or {}, extra


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413 before it is read whole."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._refuse(send)
        seen = 0
        started = False

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return message

        async def tracked(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send):
        mib = self.limit / 2**20
        body = json.dumps({
            "error": f"request body larger than the server's limit of {mib:g} MiB",
            "hint": "send a smaller file, or start the server with a larger --max-upload-mb",
        }).encode()  # fmt: skip
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class Server:
    """The state behind the app: settings, models, workers, metrics."""

    def __init__(self, settings: ServeSettings, store: ModelStore | None = None):
        self.settings = settings
        self.store = store or ModelStore(settings.paths, settings.reload_interval_s)
        self.metrics = Metrics()
        self.gate = Gate(settings.max_queue)
        self.workers: dict[str, tuple[Entry, ModelWorker]] = {}
        self.stopping = False
        self.metrics.describe("genlab_requests_total", "requests answered, by model, verb and status")
        self.metrics.describe("genlab_request_seconds", "time to answer a request, seconds")
        self.metrics.describe("genlab_batch_size", "requests answered by one model call")
        self.metrics.describe("genlab_queue_depth", "requests waiting or running")
        self.metrics.describe("genlab_models", "models served")
        self.metrics.gauge("genlab_queue_depth", lambda: self.gate.count)
        self.metrics.gauge("genlab_models", lambda: len(self.store.entries))

    def worker(self, entry: Entry) -> ModelWorker:
        """The worker of ``entry`` (a new one when the run was retrained and reloaded)."""
        current = self.workers.get(entry.name)
        if current is None or current[0] is not entry:
            worker = ModelWorker(entry.name, self.gate, self.metrics, self.settings.max_batch,
                                 self.settings.max_wait_ms)  # fmt: skip
            if current is not None:
                current[1].stop(wait=False)
            self.workers[entry.name] = (entry, worker)
            return worker
        return current[1]

    def close(self, timeout: float | None = 30.0) -> None:
        """Finish the queued requests and stop the workers."""
        self.stopping = True
        for _, worker in self.workers.values():
            worker.stop(wait=False)
        for _, worker in self.workers.values():
            worker.thread.join(timeout)


def create_app(settings: ServeSettings | None = None, store: ModelStore | None = None):
    """The FastAPI app serving ``settings.paths`` (or an existing ``store``)."""
    settings = settings or ServeSettings()
    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)
    server = Server(settings, store)

    @asynccontextmanager
    async def lifespan(app):
        yield
        await asyncio.to_thread(server.close, settings.timeout_s)

    app = FastAPI(
        title="genlab",
        version=_version(),
        description="Every trained genlab run's pipelines: generate images, text, audio, music, tables, graphs.",
        lifespan=lifespan,
    )
    app.state.server = server

    @app.exception_handler(HTTPProblem)
    async def _problem(request: Request, e: HTTPProblem):
        body = {"error": e.message, **({"hint": e.hint} if e.hint else {}), **e.extra}
        return JSONResponse(body, status_code=e.status, headers=e.headers)

    @app.middleware("http")
    async def _access(request: Request, call_next):
        began = time.perf_counter()
        path = request.url.path
        if settings.token and (path.startswith("/v1") or path == "/metrics"):
            given = request.headers.get("authorization", "")
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.token.encode()):
                response = JSONResponse(
                    {"error": "missing or wrong bearer token", "hint": "send Authorization: Bearer <token>"},
                    status_code=401, headers={"WWW-Authenticate": "Bearer"},
                )  # fmt: skip
                _log(request, response.status_code, began)
                return response
        response = await call_next(request)
        _log(request, response.status_code, began)
        return response

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])  # fmt: skip
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + 64 * 1024)  # room for the multipart framing

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz():
        if server.stopping:
            return JSONResponse({"ready": False, "reason": "stopping"}, status_code=503)
        return {"ready": True, "models": len(server.store.entries)}

    @app.get("/metrics")
    async def metrics():
        return PlainTextResponse(server.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/v1/models")
    async def list_models() -> dict:
        server.store.refresh()
        models = await asyncio.to_thread(lambda: [_summary(e) for e in list(server.store.entries.values())])
        body: dict[str, Any] = {"models": sorted(models, key=lambda m: m["name"])}
        if not models:
            where = ", ".join(str(p) for p in server.store.paths) or "(no path given)"
            body["hint"] = f"no trained model under {where}: {TRAIN_HINT}, then it appears here"
        if server.store.skipped:
            body["skipped"] = len(server.store.skipped)
        return body

    @app.get("/v1/models/{name}")
    async def model_detail(name: str) -> dict:
        entry = _entry(server, name)
        classes = await asyncio.to_thread(_classes, entry)
        default = await asyncio.to_thread(server.store.pipeline, entry, None)
        summary = await asyncio.to_thread(_summary, entry)
        verbs = {}
        for cls in classes:
            verbs[cls.verb] = {
                "description": cls.description,
                "endpoint": f"/v1/models/{entry.name}/{'generate' if cls is type(default) else cls.verb}",
                "streams": cls.streams,
                "formats": dict(cls.output_class.formats),
                "schema": request_schema(cls.request_class),
            }
        card = entry.path / "README.md"
        return {**summary, "card": card.read_text(encoding="utf-8") if card.is_file() else "",
                "verbs": verbs, "default_verb": type(default).verb}  # fmt: skip

    @app.post("/v1/models/{name}/{verb}")
    async def run_pipeline(name: str, verb: str, request: Request):
        began = time.perf_counter()
        entry = _entry(server, name)
        status = 500
        try:
            response = await _answer(server, entry, None if verb == "generate" else verb, request)
            status = response.status_code
            return response
        except HTTPProblem as e:
            status = e.status
            raise
        finally:
            server.metrics.inc("genlab_requests_total", model=entry.name, verb=verb, status=str(status))
            server.metrics.observe("genlab_request_seconds", time.perf_counter() - began, model=entry.name, verb=verb)

    async def _answer(server: Server, entry: Entry, verb: str | None, request: Request):
        try:
            pipe = await asyncio.to_thread(server.store.pipeline, entry, verb)
        except GenlabError as e:
            verbs = sorted({c.verb for c in await asyncio.to_thread(_classes, entry)})
            raise HTTPProblem(404, e.message, f"{entry.name} answers: generate, {', '.join(verbs)}") from None
        values, tmp = await _read_body(request, pipe.request_class, settings)
        try:
            control = {k: values.pop(k) for k in CONTROL_FIELDS if k in values}
            fmt, mode, stream = _control(control, pipe)
            req = _validate(pipe.request_class, values, settings)
            if stream:
                return await _stream(server, entry, pipe, req, tmp)
            job = Job(pipe, req)
            try:
                server.worker(entry).submit(job)
            except QueueFull:
                raise _busy() from None
            if tmp is not None:
                job.future.add_done_callback(lambda _: shutil.rmtree(tmp, ignore_errors=True))
                tmp = None  # removed once the job is done, even after a time-out
            try:
                output = await asyncio.wait_for(asyncio.wrap_future(job.future), settings.timeout_s)
            except TimeoutError:
                job.cancelled = True
                raise HTTPProblem(504, f"the request took longer than the server's {settings.timeout_s:g} s limit",
                                  "ask for less (a smaller n, fewer steps or tokens)") from None  # fmt: skip
            except GenlabError as e:
                raise HTTPProblem(400 if isinstance(e, BadInputError) else 500, e.message, e.hint) from None
            except Exception as e:
                log.exception("request to %s failed", entry.name)
                raise HTTPProblem(500, f"internal error: {type(e).__name__}: {e}") from None
            return await asyncio.to_thread(_encode, output, fmt, mode, pipe, req)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    async def _stream(server: Server, entry: Entry, pipe: Any, req: Any, tmp: Path | None):
        loop = asyncio.get_running_loop()
        job = Job(pipe, req, stream=True, loop=loop, pieces=asyncio.Queue())
        try:
            server.worker(entry).submit(job)
        except QueueFull:
            raise _busy() from None
        deadline = loop.time() + settings.timeout_s

        async def events():
            try:
                while True:
                    try:
                        item = await asyncio.wait_for(job.pieces.get(), max(deadline - loop.time(), 0.001))
                    except TimeoutError:
                        yield _sse("error", {"error": f"time limit of {settings.timeout_s:g} s reached"})
                        return
                    if item is END_OF_STREAM:
                        yield _sse("done", {})
                        return
                    if isinstance(item, BaseException):
                        message = item.message if isinstance(item, GenlabError) else f"internal error: {item}"
                        yield _sse("error", {"error": message})
                        return
                    index, text = item
                    if text:
                        yield _sse("token", {"index": index, "text": text})
            finally:
                job.cancelled = True  # the client went away or the stream ended: stop generating
                if tmp is not None:
                    job.future.add_done_callback(lambda _: shutil.rmtree(tmp, ignore_errors=True))

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip

    def _encode(output: Any, fmt: str, mode: str, pipe: Any, req: Any):
        data = output.encode(fmt)
        media = output.formats[fmt]
        if mode == "base64":
            body = {"format": fmt, "media_type": media, "data": base64.b64encode(data).decode("ascii")}
            text = output.text()
            if text is not None:
                body["text"] = text
            return JSONResponse(body)
        filename = Path(pipe.default_filename(req)).with_suffix(f".{fmt}").name
        return Response(data, media_type=media, headers={"Content-Disposition": f'inline; filename="{filename}"'})

    app.openapi = lambda: _openapi(app)
    return app


# ----------------------------------------------------------------------------- helpers
def _version() -> str:
    from genlab import __version__

    return __version__


def _log(request: Any, status: int, began: float) -> None:
    access_log.info(json.dumps({
        "method": request.method, "path": request.url.path, "status": status,
        "ms": round((time.perf_counter() - began) * 1000, 1),
        "client": request.client.host if request.client else None,
    }))  # fmt: skip


def _busy() -> HTTPProblem:
    """The 503 answer when the queue is full."""
    return HTTPProblem(503, "the server is busy: too many requests are waiting", "retry shortly",
                       headers={"Retry-After": str(RETRY_AFTER_S)})  # fmt: skip


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _entry(server: Server, name: str) -> Entry:
    entry = server.store.get(name)
    if entry is None:
        names = server.store.names()
        raise HTTPProblem(404, f"no model called '{name}'",
                          f"models here: {', '.join(names)}" if names else TRAIN_HINT, models=names)  # fmt: skip
    return entry


def _summary(entry: Entry) -> dict[str, Any]:
    """What the model list says of a model (its model is loaded: the verbs are those that apply to it)."""
    meta = entry.meta
    data = meta.get("data")
    source = data.get("source") if isinstance(data, dict) else None
    if isinstance(source, str) and ("/" in source or "\\" in source):
        source = Path(source).name  # where the server's files are is not the client's business
    verbs = sorted({cls.verb for cls in _classes(entry)})
    return {"name": entry.name, "task": entry.task, "model": entry.registry_name, "steps": meta.get("steps"),
            "data": source, "verbs": verbs, "endpoint": f"/v1/models/{entry.name}/generate"}  # fmt: skip


def _classes(entry: Entry) -> list[type]:
    return [c for c in ModelStore.pipeline_classes(entry) if not c.model_free and c.served]


async def _read_body(request: Any, request_class: type, settings: ServeSettings) -> tuple[dict[str, Any], Path | None]:
    """The body's fields, with uploads written to a private temporary folder (returned, to be removed)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    files = file_fields(request_class)
    tmp: Path | None = None
    limit = settings.max_upload_bytes

    def store(field: str, data: bytes, filename: str) -> str:
        nonlocal tmp
        if len(data) > limit:
            raise UploadError(field, f"the upload is larger than the server's limit of {limit / 2**20:g} MiB", 413)
        try:
            suffix = sniff(files[field], data, filename)
        except UploadError as e:
            raise UploadError(field, e.message, e.status) from None
        if tmp is None:
            tmp = Path(tempfile.mkdtemp(prefix="genlab-serve-"))
        path = tmp / f"{field}-{len(list(tmp.iterdir()))}{suffix}"
        path.write_bytes(data)
        return str(path)

    try:
        values: dict[str, Any] = {}
        if kind == "multipart/form-data":
            form = await request.form(max_part_size=limit)
            for key in set(form.keys()):
                items = form.getlist(key)
                parsed = []
                for item in items:
                    if hasattr(item, "read"):  # an uploaded file
                        if key not in files:
                            raise UploadError(key, "this field takes no file")
                        parsed.append(store(key, await item.read(), item.filename or ""))
                    else:
                        parsed.append(_form_value(str(item)))
                values[key] = parsed if len(parsed) > 1 or _is_list(request_class, key) else parsed[0]
        else:
            raw = await request.body()
            if raw.strip():
                try:
                    values = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as e:
                    raise HTTPProblem(422, f"the body is not valid JSON: {e}", "send a JSON object of the fields",
                                      detail=[{"loc": ["body"], "msg": "invalid JSON"}]) from None  # fmt: skip
                if not isinstance(values, dict):
                    raise HTTPProblem(422, "the body must be a JSON object of the request's fields",
                                      detail=[{"loc": ["body"], "msg": "not an object"}])  # fmt: skip
            for key, value in list(values.items()):
                if key in files:
                    values[key] = _json_file(key, value, request_class, store, limit)
        for key, value in values.items():
            for item in value if key in files and isinstance(value, list) else [value] if key in files else []:
                if isinstance(item, str) and not _is_upload(item, tmp):
                    _check_name_value(key, item, request_class)
        return values, tmp
    except UploadError as e:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        detail = [{"loc": ["body", e.field], "msg": e.message}]
        raise HTTPProblem(e.status, e.message, _upload_hint(e, files), detail=detail) from None
    except HTTPProblem:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise


def _upload_hint(e: UploadError, files: dict[str, str]) -> str:
    if e.status == 413:
        return "send a smaller file, or start the server with a larger --max-upload-mb"
    kind = files.get(e.field)
    return f"upload the {kind} file in the '{e.field}' field (multipart), or as {{\"base64\": …}}" if kind else ""


def _is_upload(value: str, tmp: Path | None) -> bool:
    return tmp is not None and Path(value).parent == tmp


def _json_file(key: str, value: Any, request_class: type, store, limit: int) -> Any:
    if isinstance(value, dict):
        data, filename = decode_base64(key, value, limit)
        return store(key, data, filename)
    if isinstance(value, list):
        return [_json_file(key, v, request_class, store, limit) for v in value]
    return value


def _check_name_value(key: str, value: str, request_class: type) -> None:
    if takes_names(request_class, key) and NAME_VALUE.match(value):
        return
    names = " or give a name such as builtin:NAME" if takes_names(request_class, key) else ""
    raise UploadError(key, f"the server reads no paths: upload the file{names}")


def _is_list(request_class: type, key: str) -> bool:
    info = request_class.model_fields.get(key)
    return info is not None and "list" in str(info.annotation)


def _form_value(text: str) -> Any:
    """A form field's text as JSON when it parses as a number, boolean, null, list or object; else the text."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return text
    return value if not isinstance(value, str) else text


def _control(control: dict[str, Any], pipe: Any) -> tuple[str, str, bool]:
    formats = pipe.output_class.formats
    fmt = control.get("format") or next(iter(formats), "")
    if not isinstance(fmt, str) or fmt not in formats:
        raise HTTPProblem(422, f"format '{fmt}' is not one this pipeline writes", f"formats: {', '.join(formats)}",
                          detail=[{"loc": ["body", "format"], "msg": "unknown format"}])  # fmt: skip
    mode = control.get("response") or "binary"
    if not isinstance(mode, str) or mode not in ("binary", "base64"):
        raise HTTPProblem(422, f"response '{mode}' is not binary or base64", "leave it out for the media itself",
                          detail=[{"loc": ["body", "response"], "msg": "unknown response mode"}])  # fmt: skip
    stream = control.get("stream", False)
    if not isinstance(stream, (bool, str)) or stream not in (True, False, "true", "false"):
        raise HTTPProblem(
            422, "stream must be true or false", detail=[{"loc": ["body", "stream"], "msg": "not a boolean"}]
        )
    stream = stream in (True, "true")
    if stream and not pipe.streams:
        raise HTTPProblem(422, f"`{pipe.verb}` does not stream", "leave out stream",
                          detail=[{"loc": ["body", "stream"], "msg": "not a streaming pipeline"}])  # fmt: skip
    return fmt, mode, stream


def _validate(request_class: type, values: dict[str, Any], settings: ServeSettings) -> Any:
    from pydantic import ValidationError

    hidden = hidden_fields(request_class) & set(values)
    if hidden:
        key = sorted(hidden)[0]
        raise HTTPProblem(422, f"'{key}' is not accepted by the server", "the server uses its own setting",
                          detail=[{"loc": ["body", key], "msg": "not accepted by the server"}])  # fmt: skip
    n = values.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > settings.max_n:
        raise HTTPProblem(422, f"n = {n} is more than this server's limit of {settings.max_n}",
                          "ask for fewer, or start the server with a larger --max-n",
                          detail=[{"loc": ["body", "n"], "msg": f"at most {settings.max_n}"}])  # fmt: skip
    try:
        return request_class.model_validate(values)
    except ValidationError as e:
        detail = [
            {"loc": ["body", *map(str, err["loc"])], "msg": err["msg"], "type": err["type"]} for err in e.errors()
        ]
        first = detail[0]
        field = ".".join(first["loc"][1:]) or "body"
        message = (
            "unknown field" if first["type"] == "extra_forbidden" else "invalid value"
        ) + f" '{field}': {first['msg']}"
        hint = f"fields: {', '.join(k for k in request_class.model_fields if k not in hidden_fields(request_class))}"
        raise HTTPProblem(422, message, hint, detail=detail) from None


def _openapi(app: Any) -> dict:
    """FastAPI's schema plus every registered pipeline's request schema under ``components.schemas``."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    from genlab.core.registry import PIPELINES

    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, cls in PIPELINES.items():
        if cls.model_free or not cls.served:
            continue
        body = request_schema(cls.request_class)
        for key, sub in body.pop("$defs", {}).items():
            components.setdefault(key, sub)
        body["properties"] = {**body.get("properties", {}),
                              "format": {"enum": list(cls.output_class.formats)},
                              "response": {"enum": ["binary", "base64"], "default": "binary"},
                              "stream": {"type": "boolean", "default": False}}  # fmt: skip
        components[f"{name.replace('/', '_')}_request"] = json.loads(
            json.dumps(body).replace("#/$defs/", "#/components/schemas/")
        )
    app.openapi_schema = schema
    return schema
