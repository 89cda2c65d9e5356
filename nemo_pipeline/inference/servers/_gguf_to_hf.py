"""Dequantize the embedded Gemma 3 270M GGUF into a bf16 safetensors folder that vLLM loads (vLLM has no GGUF
loader for it).

Run as a script by vLLM's interpreter, which has transformers and torch (plus the `gguf` and `accelerate` packages
of the `[vllm-cpu]` / `[vllm]` extras): `python _gguf_to_hf.py MODEL.gguf OUT_DIR`. It imports nothing of
nemo_pipeline, so it runs wherever vLLM is installed (the dev install keeps vLLM in a venv of its own).

What the GGUF does not say the way transformers needs it is restored here, so that the folder behaves as the GGUF
does under llama.cpp:
- the tokenizer adds the BOS token (the GGUF's `tokenizer.ggml.add_bos_token`; transformers' GGUF reader drops it);
- a chat template with Gemma's turn format (the GGUF of this base model carries none; llama.cpp serves it with its
  built-in `gemma` template, which this one renders the same way: a system message opens the first user turn);
- generation stops at `<end_of_turn>` as well as `<eos>` (llama.cpp counts both as end of generation).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# Gemma's turn format, as llama.cpp's built-in `gemma` template renders it. `bos_token` is rendered by the template
# because chat prompts are tokenized without special tokens.
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- set system = namespace(text='') -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}"
    "{%- set system.text = system.text + (message['content'] | trim) -%}"
    "{%- else -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\\n' }}"
    "{%- if system.text and role != 'model' -%}"
    "{{ system.text + '\\n\\n' }}"
    "{%- set system.text = '' -%}"
    "{%- endif -%}"
    "{{ (message['content'] | trim) + '<end_of_turn>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{ '<start_of_turn>model\\n' }}"
    "{%- endif -%}"
)
END_OF_TURN = "<end_of_turn>"


def convert(gguf: Path, out: Path) -> None:
    """Write the bf16 model, its tokenizer (BOS on, Gemma chat template) and generation config to `out`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer.add_bos_token = True
    tokenizer.chat_template = GEMMA_CHAT_TEMPLATE
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16)
    # The weights are dequantized on load; what is saved is a plain bf16 model, not a GGUF-quantized one.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    end_of_turn = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    if not isinstance(end_of_turn, int) or end_of_turn == tokenizer.unk_token_id:
        raise SystemExit(f"{gguf}: the tokenizer has no {END_OF_TURN} token")
    generation = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=[tokenizer.eos_token_id, end_of_turn],
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    model.generation_config = generation
    generation.save_pretrained(out)
    tokenizer.save_pretrained(out)
    check = AutoTokenizer.from_pretrained(str(out))
    ids = check("a").input_ids
    if ids[0] != tokenizer.bos_token_id:
        raise SystemExit(f"{out}: the saved tokenizer does not add the BOS token ({ids})")
    print(json.dumps({"converted": str(gguf), "to": str(out), "bos_token_id": tokenizer.bos_token_id}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gguf", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    convert(args.gguf, args.out)


if __name__ == "__main__":
    main()
