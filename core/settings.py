"""Process settings: one place that knows where data, the database and the bus live."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("var")
    database_url: str | None = None
    redis_url: str | None = None
    demo: bool = False
    node_id: str = field(default_factory=lambda: f"node-{secrets.token_hex(4)}")
    join_token_ttl: int = 600
    session_ttl: int = 8 * 3600
    resume_grace: float = 20.0
    stage_seats: int = 6
    public_url: str | None = None  # how other nodes reach this one; default http://host:port
    storage_url: str | None = None  # recordings/HLS: None = <data_dir>/media; s3://bucket?endpoint=… (core/storage)
    turn_urls: list[str] = field(default_factory=list)  # turn:/turns: URLs handed out with each join (core/turn)
    turn_ttl: int = 4 * 3600  # seconds a join's TURN credential is valid
    hls_segment_seconds: float = 1.0  # broadcast HLS: segment length (a keyframe is asked for at each)
    storage_retry_max: float = 5.0  # seconds between upload retries at most, while the store is down
    # SFU worker processes (media/workers.py), one per core by default; 0 = the SFU runs in this process
    media_workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'sanke.db').resolve()}"

    @property
    def address(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def secure_cookies(self) -> bool:
        """Served over HTTPS (`--public-url https://…`): cookies get `Secure`."""
        return (self.public_url or "").lower().startswith("https://")

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    def prepare(self) -> None:
        """Create the data dir; a first start creates its secret key there, never in the repo."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.media_dir.mkdir(parents=True, exist_ok=True)

    def secret_keys(self) -> dict[str, bytes]:
        """kid → key. The newest key (last line) signs; every listed key verifies, for rotation."""
        self.prepare()
        path = self.data_dir / "secret.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(f"k1 {secrets.token_hex(32)}\n")
        keys: dict[str, bytes] = {}
        for line in path.read_text().splitlines():
            if line.strip():
                kid, hexkey = line.split()
                keys[kid] = bytes.fromhex(hexkey)
        return keys
