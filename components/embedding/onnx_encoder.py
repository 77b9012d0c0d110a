"""A sentence-transformers model (transformer body, mean pooling) run by ONNX Runtime."""

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from components.errors import ConfigError

PRECISIONS = ("fp32", "int8")
# One session per model file and thread count, shared by every encoder of the process (the
# query embedder, the sentence selector, the verifier): each copy would cost 35 to 75 MB and a
# tenth of a second to load. ONNX Runtime sessions may run calls from several threads at once.
_SESSIONS: dict[tuple[str, int | None], Any] = {}
_SESSIONS_LOCK = threading.Lock()


class OnnxSentenceEncoder:
    """Encode texts with a local sentence-transformers model exported to ONNX.

    The model's transformer is exported once with torch's own exporter (no optimum) into
    `cache_dir`, under a name that hashes the weights, so a changed model is exported again;
    with `precision="int8"` the export is also quantised (ONNX Runtime's `quantize_dynamic`,
    weights per output channel). ONNX Runtime scales int8 activations per call, over every
    text in it, so by default (`per_text`) an int8 encoder runs each text in a call of its
    own: a vector is then a function of its text alone, bit for bit, however texts are
    batched (fp32 vectors are, whatever the batch). On 2 cores this costs nothing for
    passages of 100 tokens and more and about 40 % of the speed on short sentences; a caller
    whose texts always go together (a question with its candidate sentences) may batch them
    with `per_text=False`. Export writes to a temporary file and renames
    it, so a killed run never leaves a half-written model. Pooling is the model's own mean
    pooling, followed by L2 normalisation when asked, as sentence-transformers does; other
    poolings are refused.

    Texts are tokenised once, sorted by length and encoded in batches of similar length, so
    short texts are not padded to the longest of the whole input; a batch holds at most
    `max_tokens` padded tokens, so long texts go fewer at a time (on 2 cores, 4 texts of 256
    tokens at a time ran about 10 % faster than 32: smaller matrices stay in cache).

    Usage:
    ```python
    encoder = OnnxSentenceEncoder(model_path=path, cache_dir=cache, precision="int8")
    vectors = encoder.encode(["How long is the warranty?"], normalize=True)  # (1, 384)
    ```
    """

    def __init__(
        self,
        *,
        model_path: str,
        cache_dir: str,
        precision: str = "fp32",
        batch_size: int = 32,
        max_tokens: int = 1024,
        threads: int | None = None,
        per_text: bool = True,
    ) -> None:
        """Create the encoder; the export and the session are made on `warm_up`.

        :param model_path: the sentence-transformers model folder.
        :param cache_dir: where exported models are kept.
        :param precision: "fp32" (the same numbers as torch) or "int8" (quantised weights).
        :param batch_size: texts per ONNX Runtime call, at most.
        :param max_tokens: padded tokens per ONNX Runtime call, at most (a text longer than
            that still goes alone): 4 texts of 256 tokens, or 32 of 32.
        :param threads: intra-op threads; None lets ONNX Runtime choose.
        :param per_text: with int8, encode each text in a call of its own, so that its
            vector does not depend on the texts encoded with it (fp32 ignores it).
        """
        if precision not in PRECISIONS:
            raise ValueError(
                f"precision must be one of {', '.join(PRECISIONS)} (got {precision!r})"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive (got {batch_size})")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be positive (got {max_tokens})")
        self.model_path = model_path
        self.cache_dir = cache_dir
        self.precision = precision
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.threads = threads
        self.per_text = per_text
        self._session: Any = None
        self._tokenizer: Any = None
        self._max_length = 256
        self._inputs: list[str] = []
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Export the model if needed, then load the tokenizer and the ONNX session."""
        with self._lock:
            if self._session is not None:
                return
            from tokenizers import Tokenizer

            folder = Path(self.model_path)
            self._check_pooling(folder)
            config = folder / "sentence_bert_config.json"
            if config.is_file():
                self._max_length = json.loads(config.read_text())["max_seq_length"]
            self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            self._tokenizer.no_padding()
            self._tokenizer.enable_truncation(self._max_length)
            self._session = _session(str(self.exported_path()), self.threads)
            self._inputs = [i.name for i in self._session.get_inputs()]

    @property
    def dimension(self) -> int:
        """The length of the vectors."""
        self.warm_up()
        return int(self._session.get_outputs()[0].shape[-1])

    def exported_path(self) -> Path:
        """The ONNX file for this model and precision, exported (and quantised) if missing."""
        weights = sorted(Path(self.model_path).glob("*.safetensors")) or sorted(
            Path(self.model_path).glob("*.bin")
        )
        if not weights:
            raise ConfigError(f"{self.model_path} holds no model weights to export to ONNX")
        # "eager": exported with the model's plain attention (see `_export`); older exports,
        # under other names, are never reused.
        name = f"{Path(self.model_path).name}-{_weights_digest(weights, self.cache_dir)}-eager"
        fp32 = Path(self.cache_dir) / f"{name}-fp32.onnx"
        if not fp32.is_file():
            self._export(fp32)
        if self.precision == "fp32":
            return fp32
        int8 = Path(self.cache_dir) / f"{name}-int8-per-channel.onnx"
        if not int8.is_file():
            from onnxruntime.quantization import QuantType, quantize_dynamic

            partial = int8.with_suffix(f".{os.getpid()}.part")
            # Per output channel: per-tensor scales cost far more agreement with the fp32
            # vectors (mean cosine 0.936 against 0.994 on SciFact abstracts).
            quantize_dynamic(str(fp32), str(partial), weight_type=QuantType.QInt8, per_channel=True)
            partial.replace(int8)
        return int8

    def encode(
        self, texts: list[str], normalize: bool = True, batch_size: int | None = None
    ) -> np.ndarray:
        """The vectors of `texts`, in their order, as a float32 array (len(texts), dimension).

        :param batch_size: texts per ONNX Runtime call (default: the encoder's `batch_size`).
        """
        step = 1 if self.per_text and self.precision == "int8" else batch_size or self.batch_size
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for batch in self._batches([len(e.ids) for e in encodings], step):
            width = max(len(encodings[i].ids) for i in batch)
            feeds = {
                name: np.zeros((len(batch), width), dtype=np.int64)
                for name in ("input_ids", "attention_mask", "token_type_ids")
            }
            for row, index in enumerate(batch):
                encoding = encodings[index]
                size = len(encoding.ids)
                feeds["input_ids"][row, :size] = encoding.ids
                feeds["attention_mask"][row, :size] = encoding.attention_mask
                feeds["token_type_ids"][row, :size] = encoding.type_ids
            hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden[0] * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            vectors[batch] = pooled
        if normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors /= np.maximum(norms, 1e-12)
        return vectors

    def _batches(self, lengths: list[int], size: int) -> list[list[int]]:
        """Indexes of texts sorted by length, cut into batches of at most `size` texts and at
        most `max_tokens` padded tokens: short texts go many at a time, long ones fewer."""
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        batches: list[list[int]] = []
        for index in order:
            # Sorted ascending, so this text would be the last batch's widest.
            last = batches[-1] if batches else []
            if last and len(last) < size and (len(last) + 1) * lengths[index] <= self.max_tokens:
                last.append(index)
            else:
                batches.append([index])
        return batches

    def _export(self, target: Path) -> None:
        """Export the transformer with torch's exporter (TorchScript-based, opset 17), eager
        attention."""
        import torch
        from transformers import AutoModel, AutoTokenizer

        target.parent.mkdir(parents=True, exist_ok=True)
        # Eager attention adds the padding mask to the scores once per layer. The default
        # (scaled dot-product attention) exports as Where and IsNaN over every
        # batch x heads x tokens x tokens score, which took a fifth of ONNX Runtime's time.
        model = AutoModel.from_pretrained(
            self.model_path, local_files_only=True, attn_implementation="eager"
        ).eval()
        tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
        sample = tokenizer(
            ["an example", "a longer example sentence"], padding=True, return_tensors="pt"
        )
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

        class Body(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *inputs: Any) -> Any:
                return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

        partial = target.with_suffix(f".{os.getpid()}.part")
        axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
        with torch.no_grad():
            torch.onnx.export(
                Body(),
                tuple(sample[n] for n in names),
                str(partial),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        partial.replace(target)

    @staticmethod
    def _check_pooling(folder: Path) -> None:
        pooling = folder / "1_Pooling" / "config.json"
        if pooling.is_file():
            config = json.loads(pooling.read_text())
            if not config.get("pooling_mode_mean_tokens") or any(
                config.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens")
            ):
                raise ConfigError(
                    f"{folder}: the onnx embedding backend supports mean-pooling models only; "
                    "use embedding.backend: torch"
                )


def _session(path: str, threads: int | None) -> Any:
    """The process's ONNX Runtime session for the model file at `path`."""
    import onnxruntime as ort

    with _SESSIONS_LOCK:
        if (path, threads) not in _SESSIONS:
            options = ort.SessionOptions()
            # Idle threads sleep rather than spin: spinning holds a core for milliseconds
            # after each call, which on a small machine slows whatever runs next (the vector
            # search, the generator) more than waking the threads costs.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            if threads is not None:
                options.intra_op_num_threads = threads
            _SESSIONS[path, threads] = ort.InferenceSession(
                path, options, providers=["CPUExecutionProvider"]
            )
        return _SESSIONS[path, threads]


def _weights_digest(weights: list[Path], cache_dir: str) -> str:
    """The first 12 hex digits of the SHA-256 of the weight files, in order.

    Hashing 90 MB takes a tenth of a second at every start, so the digest is remembered in
    `cache_dir/weights-digests.json` under each file's path, size and modification time:
    a changed file is hashed again.
    """
    key = "|".join(f"{f.resolve()}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in weights)
    known_path = Path(cache_dir) / "weights-digests.json"
    try:
        known = json.loads(known_path.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    digest = hashlib.sha256()
    for file in weights:
        digest.update(file.read_bytes())
    known[key] = digest.hexdigest()[:12]
    known_path.parent.mkdir(parents=True, exist_ok=True)
    partial = known_path.with_suffix(f".{os.getpid()}.part")
    partial.write_text(json.dumps(known, indent=1))
    partial.replace(known_path)
    return known[key]
