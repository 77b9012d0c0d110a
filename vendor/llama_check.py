"""Check that the installed llama.cpp generates a token on this CPU, in a child process.

llama-cpp-python compiles llama.cpp at install time; a build that does not fit the CPU (for
example one built for a machine with AMX) dies with a signal at the first token, long after
the install seemed to succeed. pip keeps the wheel it built in its cache, so the fix names it.
"""

import subprocess
import sys

PROBE = """
import components  # offline defaults
from components.shipped_models import gguf_model_path
from llama_cpp import Llama
llm = Llama(model_path=gguf_model_path("gemma-3-270m"), n_ctx=256, verbose=False)
llm.create_completion("The capital of France is", max_tokens=2)
"""

result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=False)
if result.returncode != 0:
    print(
        f"llama.cpp cannot generate on this machine (exit code {result.returncode}):\n"
        f"{result.stderr[-2000:]}\n"
        "Rebuild it for this CPU: CMAKE_ARGS='-DGGML_NATIVE=OFF -DGGML_AVX2=ON' "
        ".venv/bin/python -m pip install --no-deps --no-cache-dir --force-reinstall "
        "llama_cpp_python (see LLAMA_CMAKE_ARGS in the Makefile)",
        file=sys.stderr,
    )
    sys.exit(1)
print("llama.cpp: generates on this CPU")
