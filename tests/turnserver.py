"""A real coturn for the TURN tests, on 127.0.0.1 and a free port, with the node's REST-API shared secret.

Debian's `coturn` package (`.ci/run` installs it); in CI its absence is a failure, elsewhere a skip.
Relay ports come from this branch's range (18740-18799) so parallel test runs of colleagues do not collide.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port
from tests.required import missing

RELAY_PORTS = (18740, 18799)


def relay_ports() -> tuple[int, int]:
    """This process's share of RELAY_PORTS: a parallel run's workers each start coturns of their own, whose
    relay ports must not collide either."""
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    share = (RELAY_PORTS[1] - RELAY_PORTS[0] + 1) // max(count, 1)
    low = RELAY_PORTS[0] + index * share
    return low, low + share - 1


def die_with_parent() -> None:
    """In the child before exec: a test run killed without its teardown takes its servers with it."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class TurnServer:
    port: int
    secret: str
    log: Path

    tls_port: int | None = None

    def url(self, transport: str = "tcp") -> str:
        if transport == "tls":
            return f"turns:localhost:{self.tls_port}?transport=tcp"
        return f"turn:127.0.0.1:{self.port}?transport={transport}"


def self_signed(workdir: Path) -> tuple[Path, Path]:
    """A certificate for 'localhost' (TURN over TLS in tests)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = workdir / "turn.crt", workdir / "turn.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@contextmanager
def run_turnserver(secret: str, workdir: Path, tls: bool = False) -> Iterator[TurnServer]:
    binary = shutil.which("turnserver")
    if binary is None:
        missing("coturn", "turnserver is not installed (apt-get install coturn)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "turnserver.log"
    tls_port = free_port() if tls else None
    if tls_port:
        cert, key = self_signed(workdir)
        encryption = [f"--tls-listening-port={tls_port}", f"--cert={cert}", f"--pkey={key}", "--no-dtls"]
    else:
        encryption = ["--no-tls", "--no-dtls"]
    args = [
        binary, "-n", "--listening-ip=127.0.0.1", f"--listening-port={port}", "--relay-ip=127.0.0.1",
        f"--min-port={relay_ports()[0]}", f"--max-port={relay_ports()[1]}", "--use-auth-secret",
        f"--static-auth-secret={secret}", "--realm=sanke", *encryption, "--no-cli", "--fingerprint",
        "--allow-loopback-peers", f"--pidfile={workdir / 'turnserver.pid'}", f"--db={workdir / 'turndb'}",
        "--log-file=stdout", "--simple-log", "--verbose",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    try:
        deadline = time.monotonic() + 15
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                missing("coturn", f"turnserver did not start: {log.read_text(errors='replace')[-800:]}")
            time.sleep(0.1)
        yield TurnServer(port, secret, log, tls_port)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
