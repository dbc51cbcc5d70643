"""One embedded stack for the whole session: real broker, PostgreSQL, S3 server, vector
index, Faust worker and gateway, on 127.0.0.1 and free ports, through the same code as
`viewfinder up`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest

from connectors.postgres import Database
from core.settings import Settings
from tests.support import ARTIFACTS, MODEL_CACHE, stack_settings
from tests.support.dataset import ImageServer
from tests.support.models import build_tiny_clip, build_tiny_detr
from viewfinder.stack import Stack


def pytest_configure(config):
    # Models loaded in the test process itself (unit tests) keep their conversions there too, not in the clone.
    os.environ["VIEWFINDER_MODEL_CACHE"] = str(MODEL_CACHE)
    shutil.rmtree(MODEL_CACHE, ignore_errors=True)


def pytest_unconfigure(config):
    shutil.rmtree(MODEL_CACHE, ignore_errors=True)


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
def image_server():
    """The tests' dataset and photo server on 127.0.0.1, started before the stack, which lists it
    in VIEWFINDER_DATASET_HOSTS and VIEWFINDER_IMAGE_HOSTS (nothing else may be fetched)."""
    with ImageServer() as server:
        yield server


@pytest.fixture(scope="session")
def running_stack(data_dir, tiny_detr, tiny_clip, image_server):
    # Threshold 0: a tiny random DETR never reaches the production threshold.
    stack = Stack(
        stack_settings(
            data_dir,
            detr_model=str(tiny_detr),
            detr_threshold=0.0,
            detr_size=128,
            clip_model=str(tiny_clip),
            **image_server.listed(),
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
def admin_key(running_stack) -> str:
    """The key the embedded stack made for user `admin` (read, write, admin)."""
    return running_stack.admin_key


@pytest.fixture(scope="session")
def gateway(stack, admin_key):
    """The gateway, as an admin would reach it: every request carries the admin key."""
    with httpx.Client(base_url=stack.gateway_url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def anonymous(stack):
    """The gateway as anyone reaches it: no key."""
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        yield client
