"""Haystack components of docent, one job each. Depends on third-party libraries only.

docent is offline by default: importing it turns off model downloads from the Hugging Face hub
and the telemetry of Haystack, Ragas and unstructured, unless the environment already says
otherwise (for example HF_HUB_OFFLINE=0 to allow downloading a model that is not shipped).
"""

import os

for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HAYSTACK_TELEMETRY_ENABLED": "False",
    "DO_NOT_TRACK": "1",
    "RAGAS_DO_NOT_TRACK": "true",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "SCARF_NO_ANALYTICS": "true",
    "ANONYMIZED_TELEMETRY": "False",
}.items():
    os.environ.setdefault(_name, _value)

# Haystack imports torch when it is imported; only the torch embedding backend uses it.
from components.deferred_import import defer_within  # noqa: E402

defer_within("torch", ["haystack.utils.device", "haystack.utils.hf"])
