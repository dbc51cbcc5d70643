"""One embedded stack for the whole session: real broker, PostgreSQL, S3 server, vector
index, Faust worker and gateway, on 127.0.0.1 and free ports, through the same code as
`viewfinder up`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import httpx
import pytest

from connectors.postgres import Database
from core.settings import Settings
from tests.support import ARTIFACTS, stack_settings
from tests.support.models import build_tiny_clip, build_tiny_detr
from viewfinder.stack import Stack


@pytest.fixture(scope="session")
def data_dir():
    # Not pytest's tmp_path: that is private to root, and PostgreSQL runs as `postgres`.
    path = Path(tempfile.mkdtemp(prefix="viewfinder-test-"))
    path.chmod(0o755)
    yield path
    logs = path / "logs"
    if logs.exists():  # kept for CI's post-mortem
        shutil.copytree(logs, ARTIFACTS / "logs", dirs_exist_ok=True)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_detr(data_dir) -> Path:
    return build_tiny_detr(data_dir / "tiny-detr")


@pytest.fixture(scope="session")
def tiny_clip(data_dir) -> Path:
    return build_tiny_clip(data_dir / "tiny-clip")


@pytest.fixture(scope="session")
def running_stack(data_dir, tiny_detr, tiny_clip):
    # Threshold 0: a tiny random DETR never reaches the production threshold.
    stack = Stack(
        stack_settings(
            data_dir, detr_model=str(tiny_detr), detr_threshold=0.0, detr_size=128, clip_model=str(tiny_clip)
        )
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def stack(running_stack) -> Settings:
    return running_stack.settings


@pytest.fixture(scope="session")
def db(stack):
    database = Database(stack.database_url, maxconn=2)
    yield database
    database.close()


@pytest.fixture(scope="session")
def gateway(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        yield client
