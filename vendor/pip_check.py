"""`pip check`, minus the dependencies that unstructured-inference is installed without on purpose.

unstructured's PDF code imports unstructured-inference, whose own requirements include timm
(which brings torchvision and, with it, a CUDA torch) and opencv-python (whose cv2 would
replace opencv-python-headless's). docent never runs its layout models, so it is installed
without them. Every other problem `pip check` finds fails the install.
"""

import re
import subprocess
import sys

ALLOWED = re.compile(
    r"^unstructured-inference [\d.]+ requires (accelerate|opencv-python|timm), "
    r"which is not installed\.$"
)

result = subprocess.run(
    [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False
)
problems = [line for line in result.stdout.splitlines() if line and not ALLOWED.match(line)]
problems = [line for line in problems if line != "No broken requirements found."]
if problems:
    print("pip check found broken requirements:", *problems, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print("pip check: no broken requirements (besides unstructured-inference's skipped extras)")
