"""The server's configuration: a few small frozen dataclasses, validated on creation.

Files are read only at the CLI edge (edge_runtime/cli/server.py); tests build these directly.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from edge_runtime.errors import InvalidArgument
from edge_runtime.server.arns import ArnScope
from edge_runtime.server.auth import AuthConfig
from edge_runtime.server.store import DB_FILE, default_home
from edge_runtime.server.training import DEFAULT_TRAINER


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class StorageConfig:
    """Where state and objects live. `s3_endpoint_url` or `use_s3` switch objects to S3 buckets."""

    data_dir: str = field(default_factory=default_home)
    db_path: str = ""  # default: <data_dir>/state.db (the file the packaging jobs use too)
    use_s3: bool = False
    s3_endpoint_url: str | None = None

    def __post_init__(self) -> None:
        if not self.data_dir:
            raise InvalidArgument("data_dir must name a folder")
        if self.s3_endpoint_url and not self.s3_endpoint_url.startswith(("http://", "https://")):
            raise InvalidArgument("the S3 endpoint must be an http(s) URL, got %r" % self.s3_endpoint_url)

    @property
    def database(self) -> str:
        return self.db_path or os.path.join(self.data_dir, DB_FILE)

    @property
    def objects_dir(self) -> str:
        return os.path.join(self.data_dir, "objects")

    @property
    def models_dir(self) -> str:
        return os.path.join(self.data_dir, "models")

    @property
    def s3(self) -> bool:
        return self.use_s3 or bool(self.s3_endpoint_url)


@dataclass(frozen=True)
class TrainingConfig:
    """What CreateModel passes to training; tests use few epochs and small images."""

    epochs: int | None = None  # None: the trainer's default
    image_size: int | None = None
    max_concurrent: int = 1
    trainer: str = DEFAULT_TRAINER  # "module:function" taking a TrainingJob, returning a package folder

    def __post_init__(self) -> None:
        if self.epochs is not None and self.epochs < 1:
            raise InvalidArgument("epochs must be >= 1, got %d" % self.epochs)
        if self.image_size is not None and not 16 <= self.image_size <= 4096:
            raise InvalidArgument("image_size must be 16..4096, got %d" % self.image_size)
        if self.max_concurrent < 1:
            raise InvalidArgument("max_concurrent must be >= 1, got %d" % self.max_concurrent)
        if ":" not in self.trainer:
            raise InvalidArgument("trainer must be 'module:function', got %r" % self.trainer)


@dataclass(frozen=True)
class ServerConfig:
    """`auth` has no default: turning authentication off is always an explicit choice (loopback only)."""

    auth: AuthConfig
    host: str = "127.0.0.1"
    port: int = 8080  # 0: any free port
    arns: ArnScope = field(default_factory=ArnScope)
    storage: StorageConfig = field(default_factory=StorageConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    max_body_bytes: int = 32 << 20  # DatasetChanges is 10 MiB before base64; images 8 MB
    idle_timeout_s: float = 60.0  # a connection silent this long (also mid-request) is closed
    max_connections: int = 64  # connections served at once (one thread each); more get 503

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InvalidArgument("port must be 0..65535, got %d" % self.port)
        if not self.idle_timeout_s > 0 or not 1 <= self.max_connections <= 4096:
            raise InvalidArgument("idle_timeout_s must be > 0 and max_connections 1..4096, got %r and %r"
                                  % (self.idle_timeout_s, self.max_connections))
        if not self.auth.enabled and not is_loopback(self.host):
            raise InvalidArgument("authentication may only be turned off when the server binds to loopback "
                                  "(127.0.0.1, ::1 or localhost), got %r" % self.host)
