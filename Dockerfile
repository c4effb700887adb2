# The image every Kubeflow task of the mer-tfx pipeline runs (mer-tfx kfp compile --image).
# It builds unedited on two bases (README "The Kubeflow image": sizes, times, smoke test):
#
#   docker build -t REGISTRY/mer-tfx:TAG .                     # TFX 1.16 image, GPU-ready
#   docker build --build-arg BASE_IMAGE=python:3.10-slim -t REGISTRY/mer-tfx:TAG .   # CPU
#   docker build --build-arg BASE_IMAGE=python:3.10-slim --build-arg TF_EXTRA=and-cuda \
#       -t REGISTRY/mer-tfx:TAG .      # slim + CUDA 12.3 / cuDNN 8.9 as pip wheels (GPU)
#
# Add --network host where build containers reach PyPI only through the host's network, and
# --build-arg EXTRA_CA_CERTS="$(cat /usr/local/share/ca-certificates/*.crt)" where a proxy
# re-signs TLS (used by the dependency stage only; the image does not keep it).
# The default base, tensorflow/tfx:1.16.0 (also gcr.io/tfx-oss-public/tfx:1.16.0), is built
# on a Deep Learning Containers GPU base: CUDA/cuDNN come with it and the Trainer sees the
# GPU KFP requests (nvidia.com/gpu). Any base works that has CPython 3.10 as `python` with
# pip and venv, and apt-get if it lacks a C compiler.
ARG BASE_IMAGE=tensorflow/tfx:1.16.0

# --- requirements: setup.py's install_requires, so that an edit of setup.py elsewhere (a new
# subpackage) leaves the dependency layer below cached.
FROM ${BASE_IMAGE} AS requirements
COPY setup.py docker/requirements.py /tmp/
RUN python /tmp/requirements.py /tmp/setup.py > /tmp/requirements.txt

# --- deps: the pinned dependencies in /opt/venv, built where a compiler may live -----------
# pyfarmhash (a TFX dependency) is source only: it needs gcc, g++ and the Python headers,
# which stay in this stage. The venv sees the base's packages (--system-site-packages), so
# on the TFX base only what it lacks is installed. Rebuilt only when the requirements,
# constraints.txt, the base or a build argument change.
FROM ${BASE_IMAGE} AS deps
# CPU wheels by default; TF_EXTRA=and-cuda adds the CUDA/cuDNN wheels (tensorflow[and-cuda]).
ARG TF_EXTRA=
ARG EXTRA_CA_CERTS=
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /tmp/mer-deps
COPY constraints.txt ./
COPY --from=requirements /tmp/requirements.txt ./
RUN command -v g++ >/dev/null \
      || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
          --no-install-recommends gcc g++ libc6-dev >/dev/null) \
    && if [ -n "$EXTRA_CA_CERTS" ]; then \
         cat "$(python -c 'import pip._vendor.certifi as c; print(c.where())')" > ca.pem \
         && printf '%s\n' "$EXTRA_CA_CERTS" >> ca.pem && export PIP_CERT=$PWD/ca.pem; fi \
    && python -m venv --without-pip --system-site-packages /opt/venv \
    && if [ -n "$TF_EXTRA" ]; then echo "tensorflow[$TF_EXTRA]" >> requirements.txt; fi \
    && /opt/venv/bin/python -m pip install -q -c constraints.txt setuptools wheel \
    && /opt/venv/bin/python -m pip install -q -c constraints.txt -r requirements.txt \
    && cd / && rm -rf /tmp/mer-deps

# --- the image: the base, the venv, the project -------------------------------------------
FROM ${BASE_IMAGE}
# TFT and TFMA 1.16 need Keras 2: TF_USE_LEGACY_KERAS must be set before TensorFlow is
# first imported, and the TFX container entrypoint imports TensorFlow before our code.
# `python` (the command KFP gives every task) is the venv's.
ENV TF_USE_LEGACY_KERAS=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# No system library to add: OpenCV's headless contrib wheel bundles its own (FFmpeg,
# OpenBLAS, ...) and links only libz and libstdc++; the smoke check imports it.
COPY --from=deps /opt/venv /opt/venv

# The project, installed offline from this copy. The compiled pipeline reads the schema
# from /opt/mer-tfx (mer_tfx.kfp.compiler.CONTAINER_SOURCE_DIR). The smoke check compiles
# the pipeline and imports every module, executor and function its tasks name.
WORKDIR /opt/mer-tfx
COPY . /opt/mer-tfx
RUN python -m pip install -q --no-deps --no-index --no-build-isolation . \
    && rm -rf build *.egg-info \
    && cd / && python /opt/mer-tfx/docker/smoke.py

# Run from a neutral folder so the source tree's top-level folders (pipeline/, trainer/,
# kfp/, ...) are never importable by accident: the installed mer_tfx package is used.
WORKDIR /
# KFP sets the command of every task (python -m tfx.orchestration.kubeflow.v2.container.
# kubeflow_v2_run_executor); the base image's entrypoint is left as it is.
