"""`make demo` and bench/demo_seeds.py must run the same data and settings."""
import importlib.util
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _makefile_value(name):
    text = open(os.path.join(REPO, "Makefile")).read()
    return int(re.search(rf"^{name} \?= (\d+)$", text, re.MULTILINE).group(1))


def test_bench_reproduces_the_demo_settings():
    spec = importlib.util.spec_from_file_location(
        "demo_seeds", os.path.join(REPO, "bench", "demo_seeds.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.DEMO_SUBJECTS == _makefile_value("DEMO_SUBJECTS")
    assert bench.DEMO_CLIPS == _makefile_value("DEMO_CLIPS")
    assert bench.DEMO_EPOCHS == _makefile_value("DEMO_EPOCHS")
    assert bench.DEMO_ROLL == _makefile_value("DEMO_ROLL")
    assert "--face photo --roll $(DEMO_ROLL) --balance casme2" in open(
        os.path.join(REPO, "Makefile")).read()
    assert "--seed $(DEMO_SEED)" in open(os.path.join(REPO, "Makefile")).read()
