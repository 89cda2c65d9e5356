"""Run FastChat's own llm_judge code on scripted judge outputs (a subprocess driver for the MT-Bench tests).

Usage: python fastchat_mt_bench.py FSCHAT_DIR INPUT.json OUTPUT.json

FSCHAT_DIR holds `fastchat/` extracted from the pinned fschat wheel. FastChat's `common.py` imports torch-backed
model adapters and the OpenAI / Anthropic clients; they are replaced by stand-ins before the import: the adapter
gives GPT-4's conversation template ("chatgpt", FastChat's own), and the OpenAI stand-in records the request and
answers with the case's scripted judgment. Everything else is FastChat's code, unchanged.

INPUT: {"judge_prompts": [rows of judge_prompts.jsonl], "cases": [{"question": [turns], "answer": [turns],
"reference": [turns] or null, "multi_turn": bool, "prompt": name, "judgment": text}], "show_result": path or null}
OUTPUT: {"cases": [{"messages", "temperature", "max_tokens", "rating", "user_prompt"}], "show_result": {...}}
"""

from __future__ import annotations

import argparse
import json
import sys
import types


def _install_stand_ins(requests: list[dict[str, object]], replies: list[str]) -> None:
    openai = types.ModuleType("openai")
    openai_error = types.ModuleType("openai.error")

    class OpenAIError(Exception):
        pass

    openai_error.OpenAIError = OpenAIError  # type: ignore[attr-defined]
    openai.error = openai_error  # type: ignore[attr-defined]

    class ChatCompletion:
        @staticmethod
        def create(**kwargs: object) -> dict[str, object]:
            requests.append(kwargs)
            return {"choices": [{"message": {"content": replies.pop(0)}}]}

    openai.ChatCompletion = ChatCompletion  # type: ignore[attr-defined]
    sys.modules["openai"] = openai
    sys.modules["openai.error"] = openai_error
    sys.modules["anthropic"] = types.ModuleType("anthropic")

    from fastchat.conversation import get_conv_template  # FastChat's own (no heavy imports)

    model = types.ModuleType("fastchat.model")
    adapter = types.ModuleType("fastchat.model.model_adapter")
    adapter.OPENAI_MODEL_LIST = ("gpt-4",)  # type: ignore[attr-defined]
    adapter.ANTHROPIC_MODEL_LIST = ()  # type: ignore[attr-defined]
    adapter.get_conversation_template = lambda name: get_conv_template("chatgpt")  # type: ignore[attr-defined]
    model.model_adapter = adapter  # type: ignore[attr-defined]
    sys.modules["fastchat.model"] = model
    sys.modules["fastchat.model.model_adapter"] = adapter


def _show_result(path: str) -> dict[str, dict[str, float]]:
    """show_result.py's single-mode tables, captured from its own prints: model -> turn1, turn2, average."""
    from fastchat.llm_judge import show_result

    tables: list[object] = []
    show_result.print = lambda *args: tables.extend(a for a in args if not isinstance(a, str))  # type: ignore[attr-defined]
    show_result.display_result_single(argparse.Namespace(input_file=path, bench_name="mt_bench", model_list=None))
    turn1, turn2, average = tables
    out: dict[str, dict[str, float]] = {}
    for (name, _turn), row in turn1.iterrows():  # type: ignore[attr-defined]
        out.setdefault(name, {})["turn1"] = float(row["score"])
    for (name, _turn), row in turn2.iterrows():  # type: ignore[attr-defined]
        out.setdefault(name, {})["turn2"] = float(row["score"])
    for name, row in average.iterrows():  # type: ignore[attr-defined]
        out.setdefault(name, {})["average"] = float(row["score"])
    return out


def main() -> None:
    fschat_dir, input_path, output_path = sys.argv[1:4]
    sys.path.insert(0, fschat_dir)
    with open(input_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    requests: list[dict[str, object]] = []
    replies = [case["judgment"] for case in spec["cases"]]
    _install_stand_ins(requests, replies)
    from fastchat.llm_judge import common

    prompts = {row["name"]: row for row in spec["judge_prompts"]}
    results = []
    for case in spec["cases"]:
        judge = common.Judge("gpt-4", prompts[case["prompt"]], ref_based=case["reference"] is not None,
                             multi_turn=case["multi_turn"])  # fmt: skip
        question = {"question_id": 0, "turns": case["question"]}
        answer = {"choices": [{"turns": case["answer"]}]}
        reference = {"choices": [{"turns": case["reference"]}]} if case["reference"] is not None else None
        rating, user_prompt, _ = common.run_judge_single(question, answer, judge, reference, case["multi_turn"])
        request = requests[-1]
        results.append(
            {
                "messages": request["messages"],
                "temperature": request["temperature"],
                "max_tokens": request["max_tokens"],
                "rating": rating,
                "user_prompt": user_prompt,
            }
        )
    out = {"cases": results, "show_result": _show_result(spec["show_result"]) if spec.get("show_result") else None}
    with open(output_path, "w", encoding="utf-8") as handle:
        json.dump(out, handle)


if __name__ == "__main__":
    main()
