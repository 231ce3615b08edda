"""A local stand-in with Qwen3-0.6B-Base's exact architecture, for machines that cannot reach the hub.

`write(out_dir, tokenizer_dir)` writes the architecture's `config.json` and a local tokenizer; a recipe then
loads it with `model.from_config=true` (random weights: no checkpoint is downloaded or stored). It proves
that every code path of the Qwen3 recipes is wired and gives real step times and memory at real shapes;
it cannot give accuracy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

# Qwen/Qwen3-0.6B-Base config.json: 28 layers, hidden 1024, 16 query / 8 key-value heads of 128, SwiGLU 3072,
# QK-norm, RoPE theta 1e6, tied embeddings, vocabulary 151,936; <|endoftext|> (151643) ends a document.
QWEN3_0_6B_BASE = {
    "architectures": ["Qwen3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151643,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 1024,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "max_position_embeddings": 32768,
    "max_window_layers": 28,
    "model_type": "qwen3",
    "num_attention_heads": 16,
    "num_hidden_layers": 28,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000,
    "sliding_window": None,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 151936,
}


def write(out_dir: Path, tokenizer_dir: Path) -> Path:
    """config.json of Qwen3-0.6B-Base plus the tokenizer files of `tokenizer_dir` (ids fit the vocabulary)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    config = dict(QWEN3_0_6B_BASE)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config["eos_token_id"] = config["bos_token_id"] = tokenizer.eos_token_id  # the local tokenizer's document end
    config["pad_token_id"] = tokenizer.pad_token_id
    (out_dir / "config.json").write_text(json.dumps(config, indent=2))
    for item in Path(tokenizer_dir).iterdir():
        if item.name.startswith(("tokenizer", "special_tokens", "chat_template", "vocab", "merges")):
            shutil.copy(item, out_dir / item.name)
    return out_dir


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("artifacts/qwen3-0.6b-shape"))
    parser.add_argument("--tokenizer", type=Path, required=True, help="a local tokenizer directory (the tiny model's)")
    args = parser.parse_args(argv)
    print(f"wrote {write(args.out, args.tokenizer)}")


if __name__ == "__main__":
    main()
