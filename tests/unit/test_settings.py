"""core.settings: VIEWFINDER_* environment variables in, typed Settings out."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings


def test_empty_environment_gives_the_defaults():
    assert Settings.from_env({}) == Settings()


def test_types_are_parsed():
    s = Settings.from_env(
        {
            "VIEWFINDER_PORT": "9090",
            "VIEWFINDER_S3_SECURE": "true",
            "VIEWFINDER_DETR_THRESHOLD": "0.35",
            "VIEWFINDER_BROKER_SESSION_TIMEOUT": "6.5",
            "VIEWFINDER_DATA_DIR": "/srv/viewfinder/data",
            "VIEWFINDER_MAX_PIXELS": "25000000",
            "VIEWFINDER_S3_BUCKET": "photos",
        }
    )
    assert s.port == 9090 and type(s.port) is int
    assert s.s3_secure is True
    assert s.detr_threshold == 0.35 and type(s.detr_threshold) is float
    assert s.broker_session_timeout == 6.5
    assert s.data_dir == Path("/srv/viewfinder/data") and isinstance(s.data_dir, Path)
    assert s.max_pixels == 25_000_000 and type(s.max_pixels) is int
    assert s.s3_bucket == "photos"
    assert s.gateway_url == "http://127.0.0.1:9090"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("true", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("", False),
    ],
)
def test_booleans(raw, expected):
    assert Settings.from_env({"VIEWFINDER_S3_SECURE": raw}).s3_secure is expected


def test_float_setting_accepts_whole_numbers():
    s = Settings.from_env({"VIEWFINDER_MODEL_LOAD_TIMEOUT": "30"})
    assert s.model_load_timeout == 30.0 and type(s.model_load_timeout) is float


@pytest.mark.parametrize(
    "name, raw",
    [
        ("VIEWFINDER_PORT", "eighty"),
        ("VIEWFINDER_PORT", "80.5"),
        ("VIEWFINDER_TOPIC_PARTITIONS", ""),
        ("VIEWFINDER_DETR_THRESHOLD", "high"),
        ("VIEWFINDER_S3_SECURE", "maybe"),
        ("VIEWFINDER_INFERENCE", "onnx"),
        ("VIEWFINDER_PRECISION", "fp8"),
        ("VIEWFINDER_INFERENCE_THREADS", "-1"),
        ("VIEWFINDER_CLIP_TAG_THRESHOLD", "1.5"),
        ("VIEWFINDER_CLIP_TAG_LIMIT", "500"),
    ],
)
def test_invalid_value_names_the_variable(name, raw):
    with pytest.raises(ValueError) as err:
        Settings.from_env({name: raw})
    assert name in str(err.value)


def test_to_env_round_trips():
    original = Settings(
        data_dir=Path("/var/lib/vf"),
        host="0.0.0.0",
        port=18080,
        broker="kafka:9092",
        topic_partitions=12,
        broker_session_timeout=7.25,
        s3_secure=True,
        s3_access_key="AKIA",
        detr_threshold=0.123456789,
        detr_size=640,
        log_level="DEBUG",
        max_pixels=12_345_678,
    )
    env = original.to_env()
    assert all(key.startswith("VIEWFINDER_") and isinstance(value, str) for key, value in env.items())
    assert env["VIEWFINDER_PORT"] == "18080"
    assert Settings.from_env(env) == original


def test_defaults_round_trip():
    assert Settings.from_env(Settings().to_env()) == Settings()


@pytest.mark.parametrize("secure", [True, False])
def test_booleans_round_trip(secure):
    assert Settings.from_env(Settings(s3_secure=secure).to_env()).s3_secure is secure


def test_unrelated_variables_are_ignored():
    s = Settings.from_env(
        {
            "PORT": "1",
            "HOME": "/root",
            "S3_SECURE": "true",
            "viewfinder_port": "1234",
            "VIEWFINDERPORT": "1",
            "PATH": "/usr/bin",
        }
    )
    assert s == Settings()


def test_reads_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("VIEWFINDER_PORT", "18181")
    monkeypatch.setenv("VIEWFINDER_LOG_LEVEL", "INFO")
    s = Settings.from_env()
    assert s.port == 18181 and s.log_level == "INFO"


def test_replace_keeps_the_rest():
    s = Settings.from_env({"VIEWFINDER_PORT": "9000"}).replace(host="10.0.0.1")
    assert (s.host, s.port, s.s3_bucket) == ("10.0.0.1", 9000, "viewfinder")
