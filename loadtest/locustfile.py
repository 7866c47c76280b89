"""Locust: classroom PCs join a lesson by code, open the WebSocket, join, raise and lower a hand, leave.

    python -m loadtest.seed --classrooms 200 --codes var/load-codes.txt
    LOADTEST_CODES=var/load-codes.txt locust -f loadtest/locustfile.py --headless \
        -u 200 -r 20 -t 60s --host http://127.0.0.1:8080

The WebSocket steps are reported to locust as requests of type WS (join latency = `WS join`).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
from pathlib import Path

import websocket
from locust import HttpUser, between, events, task

CODES = Path(os.environ.get("LOADTEST_CODES", "var/load-codes.txt")).read_text().split()
_next_code = itertools.cycle(CODES)
_lock = threading.Lock()


def _fire(name: str, started: float, exc: Exception | None = None, size: int = 0) -> None:
    events.request.fire(request_type="WS", name=name, response_time=(time.perf_counter() - started) * 1000,
                        response_length=size, exception=exc, context={})


class ClassroomPC(HttpUser):
    wait_time = between(1, 3)

    def on_start(self) -> None:
        with _lock:
            self.code = next(_next_code)
        self.ws: websocket.WebSocket | None = None

    def _recv(self, want: str, timeout: float = 10.0) -> dict:
        assert self.ws is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if msg.get("type") == "error":
                raise RuntimeError(f"{msg['code']}: {msg['message']}")
            if msg.get("type") == want:
                return msg
        raise TimeoutError(want)

    @task
    def lesson(self) -> None:
        with self.client.post("/api/classroom/join", json={"code": self.code}, name="/api/classroom/join",
                              catch_response=True) as r:
            if r.status_code != 200:
                r.failure(r.text)
                return
            token = r.json()["token"]
        url = self.host.replace("http", "ws", 1) + "/ws"
        started = time.perf_counter()
        try:
            self.ws = websocket.create_connection(url, timeout=10)
            self.ws.send(json.dumps({"type": "join", "token": token, "id": 1}))
            self._recv("joined")
            _fire("join", started)
            for step in ("hand.raise", "hand.lower"):
                t = time.perf_counter()
                self.ws.send(json.dumps({"type": step, "id": step}))
                self._recv("ok")
                _fire(step, t)
                time.sleep(random.uniform(0.5, 2.0))
            t = time.perf_counter()
            self.ws.send(json.dumps({"type": "leave"}))
            _fire("leave", t)
        except Exception as e:  # every failure is a locust failure, not a crash
            _fire("join", started, e)
        finally:
            if self.ws is not None:
                self.ws.close()
                self.ws = None
