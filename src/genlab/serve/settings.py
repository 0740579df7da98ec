"""What ``genlab serve`` is configured with: where the runs are, the address, the token and the limits."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from pydantic import Field, model_validator

from genlab.core.config import Config
from genlab.core.errors import ConfigError

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServeSettings(Config):
    """Options of the REST server; every limit has a default that keeps one laptop responsive."""

    paths: list[str] = Field(default_factory=list, description="runs folders, run or model directories to serve")
    host: str = Field("127.0.0.1", description="address to listen on; anything but loopback needs a token")
    port: int = Field(8000, ge=0, le=65535, description="TCP port")
    token: str | None = Field(None, min_length=16, description="bearer token every /v1 request must carry")
    max_batch: int = Field(32, ge=1, le=1024, description="most requests answered by one batched model call")
    max_wait_ms: float = Field(10.0, ge=0, le=10_000, description="how long a batch waits for more requests")
    max_queue: int = Field(256, ge=1, le=100_000, description="requests waiting at most (then 503 + Retry-After)")
    timeout_s: float = Field(120.0, gt=0, le=3600, description="time limit of one request (then 504)")
    max_n: int = Field(256, ge=1, le=100_000, description="largest `n` (samples) one request may ask for")
    max_upload_mb: float = Field(20.0, gt=0, le=4096, description="largest request body / uploaded file, MiB")
    threads: int | None = Field(None, ge=1, le=512, description="torch threads (default: torch's own)")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed by CORS (default: none)")
    reload_interval_s: float = Field(2.0, ge=0, description="how often new or changed runs are looked for")
    workers: int = Field(1, ge=1, le=64, description="server processes (each loads the models it serves)")

    @model_validator(mode="after")
    def _token_off_loopback(self) -> ServeSettings:
        if not is_loopback(self.host) and not self.token:
            raise ConfigError(
                f"refusing to serve on {self.host} without a token: anyone who can reach it could use the models",
                "give --token-file FILE (a secret of at least 16 characters), or keep the default --host 127.0.0.1",
            )
        return self

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def read_token_file(path: str | Path) -> str:
    """The token in ``path`` (surrounding whitespace dropped); a missing, empty or world-readable file is an
    error with a hint."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"token file not found: {path}", "write a secret into it, e.g. `openssl rand -hex 24 > FILE`")
    token = path.read_text(encoding="utf-8").strip()
    if len(token) < 16:
        raise ConfigError(f"the token in {path} is shorter than 16 characters", "use a longer random secret")
    if os.name == "posix" and path.stat().st_mode & 0o004:
        raise ConfigError(f"{path} is readable by every user of this machine", f"chmod 600 {path}")
    return token
