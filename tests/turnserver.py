"""A real coturn for the TURN tests, on 127.0.0.1 and a free port, with the node's REST-API shared secret.

Debian's `coturn` package (`.ci/run` installs it); in CI its absence is a failure, elsewhere a skip.
Relay ports come from this branch's range (18740-18799) so parallel test runs of colleagues do not collide.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port, missing

RELAY_PORTS = (18740, 18799)


@dataclass
class TurnServer:
    port: int
    secret: str
    log: Path

    def url(self, transport: str = "tcp") -> str:
        return f"turn:127.0.0.1:{self.port}?transport={transport}"


@contextmanager
def run_turnserver(secret: str, workdir: Path) -> Iterator[TurnServer]:
    binary = shutil.which("turnserver")
    if binary is None:
        missing("coturn", "turnserver is not installed (apt-get install coturn)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "turnserver.log"
    args = [
        binary, "-n", "--listening-ip=127.0.0.1", f"--listening-port={port}", "--relay-ip=127.0.0.1",
        f"--min-port={RELAY_PORTS[0]}", f"--max-port={RELAY_PORTS[1]}", "--use-auth-secret",
        f"--static-auth-secret={secret}", "--realm=sanke", "--no-tls", "--no-dtls", "--no-cli", "--fingerprint",
        "--allow-loopback-peers", f"--pidfile={workdir / 'turnserver.pid'}", f"--db={workdir / 'turndb'}",
        "--log-file=stdout", "--simple-log", "--verbose",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                missing("coturn", f"turnserver did not start: {log.read_text(errors='replace')[-800:]}")
            time.sleep(0.1)
        yield TurnServer(port, secret, log)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
