"""Haystack imported without torch until a component uses it (components.deferred_import)."""

import subprocess
import sys
from pathlib import Path

CHECK = """
import sys
import components
import haystack
from haystack import Pipeline
from haystack.utils.device import ComponentDevice
print("after haystack:", "torch" in sys.modules)
print("device:", ComponentDevice.from_str("cpu").to_torch())
print("loaded by the device:", "torch._C" in sys.modules)
from sentence_transformers import SentenceTransformer
print("sentence-transformers:", SentenceTransformer.__name__)
"""


def test_haystack_loads_torch_only_when_a_component_uses_it_and_torch_still_works():
    result = subprocess.run(
        [sys.executable, "-c", CHECK],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "after haystack: False",
        "device: cpu",
        "loaded by the device: True",
        "sentence-transformers: SentenceTransformer",
    ]
