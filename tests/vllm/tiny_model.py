"""A tiny Llama-architecture model for tests, built offline and deterministically: no model hub, no torch.

`build_tiny_model(folder, bos=True)` writes a Hugging Face model folder that vLLM and transformers load: random
weights from a fixed seed (hidden size 64, 2 layers, 2 heads of size 32: vLLM's CPU attention accepts head sizes
32, 64, 80, ...), safetensors, and a byte-level BPE tokenizer trained with `tokenizers` on the text below. With
`bos=True` the tokenizer puts `<s>` before every text (as Llama's and Gemma's do); with `bos=False` it adds
nothing (as GPT-2's and Qwen's). The weights are meaningless: tests compare two scorers on the same server.

Run as a script to build one: `python -m tests.vllm.tiny_model FOLDER [--no-bos]`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["build_tiny_model"]

SEED = 20260101
HIDDEN, LAYERS, HEADS, HEAD_DIM, INTERMEDIATE = 64, 2, 2, 32, 128
VOCAB = 600
MAX_POSITIONS = 4096

# The tokenizer's training text: plain sentences in the benchmarks' style (questions, answers, numbers), a few
# non-ASCII characters so that some of them stay split into byte tokens.
CORPUS = [
    "Question: To keep a cat warm in winter\nAnswer: give the cat a blanket and shelter.",
    "Question: How do you boil an egg?\nAnswer: put the egg in boiling water for ten minutes.",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.",
    "How many clips did Natalia sell altogether in April and May? The answer is 72.",
    "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting.",
    "The following are multiple choice questions (with answers) about high school physics.",
    "A. the first choice B. the second choice C. the third choice D. the fourth choice",
    "Let's think step by step. First we add the numbers, then we divide the sum by two.",
    "She put the dog in the freezer. He gave the horse a blanket. They keep the cow in the barn.",
    "Café au lait — a naïve résumé of the façade, 3 × 4 = 12, 10 °C, π ≈ 3.14159.",
]


def _tokenizer(bos: bool) -> Any:
    """A byte-level BPE tokenizer trained on CORPUS (the same vocabulary for both variants)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def _weights(vocab: int) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(SEED)

    def normal(*shape: int, std: float) -> Any:
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    out = {"model.embed_tokens.weight": normal(vocab, HIDDEN, std=1.0)}
    for layer in range(LAYERS):
        prefix = f"model.layers.{layer}."
        out[prefix + "input_layernorm.weight"] = np.ones(HIDDEN, dtype=np.float32)
        out[prefix + "post_attention_layernorm.weight"] = np.ones(HIDDEN, dtype=np.float32)
        for name in ("q_proj", "k_proj", "v_proj"):
            out[prefix + f"self_attn.{name}.weight"] = normal(HEADS * HEAD_DIM, HIDDEN, std=HIDDEN**-0.5)
        out[prefix + "self_attn.o_proj.weight"] = normal(HIDDEN, HEADS * HEAD_DIM, std=(HEADS * HEAD_DIM) ** -0.5)
        out[prefix + "mlp.gate_proj.weight"] = normal(INTERMEDIATE, HIDDEN, std=HIDDEN**-0.5)
        out[prefix + "mlp.up_proj.weight"] = normal(INTERMEDIATE, HIDDEN, std=HIDDEN**-0.5)
        out[prefix + "mlp.down_proj.weight"] = normal(HIDDEN, INTERMEDIATE, std=INTERMEDIATE**-0.5)
    out["model.norm.weight"] = np.ones(HIDDEN, dtype=np.float32)
    out["lm_head.weight"] = normal(vocab, HIDDEN, std=0.3)  # logits spread over a few nats: distinct scores
    return out


# A minimal chat template (the tiny model has no turn format of its own), so chat requests work too.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def build_tiny_model(folder: Path, *, bos: bool = True) -> Path:
    """Write the tiny model into `folder` (created) and return it; the same bytes on every call."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer(bos)
    tok.save(str(folder / "tokenizer.json"))
    vocab = tok.get_vocab_size()
    bos_id, eos_id = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": HEADS,
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "max_position_embeddings": MAX_POSITIONS,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "vocab_size": vocab,
        "bos_token_id": bos_id if bos else None,
        "eos_token_id": eos_id,
        "torch_dtype": "float32",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    generation = {"bos_token_id": bos_id if bos else None, "eos_token_id": eos_id}
    (folder / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>" if bos else None,
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "add_bos_token": bos,
        "add_eos_token": False,
        "model_max_length": MAX_POSITIONS,
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    special = {"eos_token": "</s>", "unk_token": "<unk>", **({"bos_token": "<s>"} if bos else {})}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")
    save_file(_weights(vocab), str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--no-bos", action="store_true", help="a tokenizer that adds no BOS token")
    args = parser.parse_args()
    print(build_tiny_model(args.folder, bos=not args.no_bos))


if __name__ == "__main__":
    main()
