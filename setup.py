"""mer-tfx: micro-expression recognition on TensorFlow Extended.

The repository keeps the TFX-template layout (pipeline/, components/, trainer/,
transform/, schemas/, kfp/ at the top level) but installs everything under one
import root, ``mer_tfx``, so that no top-level name clashes with a real library:
in particular the ``kfp/`` folder imports as ``mer_tfx.kfp`` and never shadows
the Kubeflow Pipelines SDK (the folder has no ``__init__.py`` for the same reason,
so even with the repository root on sys.path ``import kfp`` finds the SDK).
"""
from setuptools import setup

# Each top-level folder is linked into mer_tfx/ (mer_tfx/pipeline -> ../pipeline, ...):
# one import root without a package_dir mapping, which editable installs and the
# namespace package mer_tfx.kfp (no __init__.py) both handle.
SUBPACKAGES = ["ingestion", "synthetic", "components", "pipeline", "protocols", "trainer",
               "explain", "spotting",
               "transform", "schemas", "evaluation", "kfp"]

setup(
    name="mer-tfx",
    version="0.1.0",
    description="Facial micro-expression recognition pipeline on TFX",
    python_requires=">=3.10,<3.11",
    packages=["mer_tfx"] + [f"mer_tfx.{name}" for name in SUBPACKAGES],
    package_data={"mer_tfx.schemas": ["*.pbtxt"], "mer_tfx.evaluation": ["templates/*.html"]},
    install_requires=[
        "tfx==1.16.0",
        "kfp>=2.5,<2.6",  # the Kubeflow runner and client (tfx only lists it as an extra)
        # OpenCV's contrib build (cv2.optflow: TV-L1 optical flow); a drop-in for
        # opencv-python-headless, which must not be installed beside it.
        "opencv-contrib-python-headless",
        "openpyxl",
        "dill",
        "matplotlib",
        "jinja2",  # the report page template
        "scikit-learn",
        "scipy",  # the spotting metric's one-to-one matching (already scikit-learn's)
        # Beam's DaskRunner (ingestion on a dask.distributed cluster)
        "dask[distributed]",
        # face landmarks (ingestion/landmarks.py): MTCNN on TensorFlow, weights in the wheel
        "mtcnn",
        "threadpoolctl",  # one BLAS thread for ONet's small products (scikit-learn's too)
    ],
    extras_require={"test": ["pytest"]},
    entry_points={"console_scripts": ["mer-tfx=mer_tfx.cli:main"]},
)
