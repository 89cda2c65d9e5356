"""Which block the model paused on, and how its output is written back: one row per case (pure functions)."""

from __future__ import annotations

import pytest

from nemo_pipeline.inference.code_execution import find_code_to_run, format_output
from nemo_pipeline.sandbox import ExecutionResult

# (step text, finish_reason, expected code or None, expected kept text or None)
ROWS = [
    ("Just prose. The answer is 4.", "stop", None, None),
    ("```python\nprint(1)\n```\n", "stop", "print(1)\n", "```python\nprint(1)\n```\n"),
    ("```python\nprint(1)\n```", "stop", "print(1)\n", "```python\nprint(1)\n```\n"),  # no newline after the fence
    ("```python\nprint(1)\n```\n```output", "stop", "print(1)\n", "```python\nprint(1)\n```\n"),  # stop returned
    ("```python\nprint(1)\n```\n```output\n", "stop", "print(1)\n", "```python\nprint(1)\n```\n"),
    ("```py\nx = 2\nprint(x)\n```\n", "stop", "x = 2\nprint(x)\n", "```py\nx = 2\nprint(x)\n```\n"),
    ("```Python3 \nprint(3)\n```  \n\n", "stop", "print(3)\n", "```Python3 \nprint(3)\n```\n"),
    ("```python\nprint(1)\n```\nThe answer is 1.", "stop", None, None),  # prose after: the model did not pause
    ("```python\nprint(1)\n", "stop", "print(1)\n", "```python\nprint(1)\n```\n"),  # unclosed: closed and run
    ("```python\nprint(1)", "stop", "print(1)", "```python\nprint(1)\n```\n"),
    ("```python\nprint(1)\n", "length", None, None),  # cut by the budget mid-block: not run
    ("```python\n\n```\n", "stop", None, None),  # empty block
    ("```\nprint(1)\n```\n", "stop", None, None),  # not tagged python
    ("```bash\nls\n```\n", "stop", None, None),
    ("```python\nprint(1)\n```\n```output\n1\n```\nthen\n```python\nprint(2)\n```\n", "stop", "print(2)\n", None),
    ("Text ```python\nprint(5)\n```\n", "stop", "print(5)\n", "Text ```python\nprint(5)\n```\n"),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("text", "finish", "code", "kept"), ROWS)
def test_find_code_to_run(text, finish, code, kept):
    found = find_code_to_run(text, finish)
    if code is None:
        assert found is None
        return
    assert found is not None and found.code == code
    if kept is not None:
        assert found.kept_text == kept
    assert found.kept_text.endswith("```\n")


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("result", "limit", "expected"),
    [
        (ExecutionResult("completed", "42\n", ""), 100, "```output\n42\n```\n"),
        (ExecutionResult("completed", "", ""), 100, "```output\n\n```\n"),
        (
            ExecutionResult("error", "a\n", "Traceback\nValueError: x\n"),
            100,
            "```output\na\nTraceback\nValueError: x\n```\n",
        ),
        (ExecutionResult("completed", "x" * 50, ""), 10, "```output\nxxxxxxxxxx\n[output cut to 10 characters]\n```\n"),
        (ExecutionResult("failed", "", ""), 100, "```output\n[the sandbox could not run this code]\n```\n"),
    ],
)
def test_format_output(result, limit, expected):
    assert format_output(result, limit) == expected


@pytest.mark.timeout(10)
def test_math_code_prompt_invites_python_blocks():
    from nemo_pipeline.inference.prompts import load_prompt

    prompt = load_prompt("generic/math-code")
    messages = prompt.render({"id": "x", "problem": "What is 2 + 2?"})
    assert [m["role"] for m in messages] == ["system", "user"]
    system, user = messages[0]["content"], messages[1]["content"]
    assert "```python" in system and "```output" in system and "\\boxed{385}" in system
    assert user.endswith("What is 2 + 2?") and "\\boxed{}" in user
    # The worked example in the system text is itself a block the protocol would run, with the output shown.
    found = find_code_to_run(system.split("Example:")[1].split("```output")[0], "stop")
    assert found is not None and found.code == "print(sum(k * k for k in range(1, 11)))\n"
