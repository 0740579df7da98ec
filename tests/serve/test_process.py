"""`genlab serve` as a real process: it starts, answers, and on SIGTERM finishes the request in flight."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.processes import free_port

httpx = pytest.importorskip("httpx", reason="the serve extra (httpx) is not installed")


def test_sigterm_lets_the_request_in_flight_finish(served_runs):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "serve", str(served_runs), "--port", str(port),
                             "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        assert httpx.post(f"{url}/v1/models/poet/generate", json={"max_new_tokens": 5}, timeout=60).status_code == 200
        answer: dict = {}

        def slow() -> None:
            body = {"prompt": "To be", "max_new_tokens": 4000, "seed": 0}
            answer["response"] = httpx.post(f"{url}/v1/models/poet/generate", json=body, timeout=120)

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.5)  # the request is being answered
        proc.send_signal(signal.SIGTERM)
        thread.join(120)
        response = answer["response"]
        assert response.status_code == 200 and len(response.text) >= 4000
        assert proc.wait(60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
        log = proc.stdout.read().decode()
        assert '"path": "/v1/models/poet/generate", "status": 200' in log  # the JSON access log
    finally:
        if proc.poll() is None:
            proc.kill()
