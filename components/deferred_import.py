"""Let given modules import a heavy module without paying for it until they use it.

Haystack's `haystack.utils.device` and `haystack.utils.hf` import torch when they are imported
(and every `import haystack` imports the first), only to use it when a component asks for a
torch device; torch then costs about 1.3 s and 150 MB in every command, although the shipped
models run on ONNX Runtime and llama.cpp. `defer_within("torch", modules)` makes those modules
see a stand-in for torch: it imports the real torch, the normal way, the first time one of its
attributes is read. Everyone else's `import torch` is untouched, so nothing changes for code
that uses torch, and the stand-in never sits in `sys.modules` (where `import torch.nn` would
find a package that was not initialised).

Usage:
```python
defer_within("torch", ["haystack.utils.device", "haystack.utils.hf"])
import haystack  # no longer loads torch
```
"""

import importlib
import importlib.abc
import importlib.util
import sys
import types
from collections.abc import Iterable
from typing import Any


class DeferredModule(types.ModuleType):
    """Stands in for the module `name`; reading an attribute imports the real one."""

    def __init__(self, name: str) -> None:
        super().__init__(name)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attribute)


class _StandInLoader(importlib.abc.Loader):
    """Runs a module with a stand-in for `deferred` in `sys.modules` while it executes."""

    def __init__(self, loader: importlib.abc.Loader, deferred: str) -> None:
        self.loader = loader
        self.deferred = deferred

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        if self.deferred in sys.modules:
            self.loader.exec_module(module)
            return
        stand_in = DeferredModule(self.deferred)
        sys.modules[self.deferred] = stand_in
        try:
            self.loader.exec_module(module)
        finally:
            if sys.modules.get(self.deferred) is stand_in:
                del sys.modules[self.deferred]

    def __getattr__(self, attribute: str) -> Any:
        # get_source, get_code, ...: what inspect and tracebacks ask of a module's loader.
        return getattr(self.loader, attribute)


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds `modules` as the other finders do, and gives them a `_StandInLoader`."""

    def __init__(self, deferred: str, modules: Iterable[str]) -> None:
        self.deferred = deferred
        self.modules = set(modules)

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in self.modules:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _StandInLoader(spec.loader, self.deferred)
                return spec
        return None


def defer_within(deferred: str, modules: Iterable[str]) -> None:
    """Make `modules`, when they are imported later, get a stand-in for `deferred` that
    imports it on first use. A no-op for modules already imported."""
    pending = [m for m in modules if m not in sys.modules]
    if pending and importlib.util.find_spec(deferred) is not None:
        sys.meta_path.insert(0, _DeferringFinder(deferred, pending))
