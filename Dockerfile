# The image every Kubeflow task of the mer-tfx pipeline runs (mer-tfx kfp compile --image).
#
#   docker build -t REGISTRY/mer-tfx:TAG .
#   docker push REGISTRY/mer-tfx:TAG
#
# Base: the official TFX 1.16 image (also gcr.io/tfx-oss-public/tfx:1.16.0). It is built
# on a Google Deep Learning Containers GPU base, so CUDA/cuDNN come with it and the
# Trainer sees the GPU that KFP requests (nvidia.com/gpu). Check on a GPU machine with:
#   docker run --rm --gpus all REGISTRY/mer-tfx:TAG \
#     python -c "import tensorflow as tf; print(tf.config.list_physical_devices('GPU'))"
#
# The base must provide Python 3.10 as `python` (setup.py requires it) and pip. Without
# the TFX image, e.g. on a slim Python base, let pip bring CUDA 12.3 / cuDNN 8.9 as wheels
# (the GPU nodes then only need the NVIDIA driver):
#   docker build --build-arg BASE_IMAGE=python:3.10-slim -t REGISTRY/mer-tfx:TAG .
# with the install line below changed to
#   python -m pip install -c constraints.txt . "tensorflow[and-cuda]==2.16.2"
# (if OpenCV then misses a system library, add `apt-get install -y libglib2.0-0`).
# An nvidia/cuda runtime base with CUDA 12.3 and cuDNN works too once Python 3.10 is
# apt-installed in it (python3.10 python3-pip python-is-python3).
ARG BASE_IMAGE=tensorflow/tfx:1.16.0
FROM ${BASE_IMAGE}

# TFT and TFMA 1.16 need Keras 2: TF_USE_LEGACY_KERAS must be set before TensorFlow is
# first imported, and the TFX container entrypoint imports TensorFlow before our code.
ENV TF_USE_LEGACY_KERAS=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The compiled pipeline reads the schema from here (mer_tfx.kfp.compiler.CONTAINER_SOURCE_DIR)
# and installs the project from the same copy, pinned to the tested stack.
WORKDIR /opt/mer-tfx
COPY . /opt/mer-tfx
RUN python -m pip install -c constraints.txt . \
    && rm -rf build *.egg-info \
    && cd / && python -c "import mer_tfx.components.mer_example_gen, mer_tfx.trainer.task, \
mer_tfx.components.subject_split, mer_tfx.transform.preprocessing, tfx, kfp; \
print('mer-tfx image OK')" \
    && test -f /opt/mer-tfx/schemas/schema.pbtxt

# Run from a neutral folder so the source tree's top-level folders (pipeline/, trainer/,
# kfp/, ...) are never importable by accident: the installed mer_tfx package is used.
WORKDIR /
# KFP sets the command of every task (python -m tfx.orchestration.kubeflow.v2.container.
# kubeflow_v2_run_executor); the base image's entrypoint is left as it is.
