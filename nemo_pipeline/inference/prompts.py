"""Prompt configs in YAML (conf/prompt/<family>/<name>.yaml): system text, a user template, few-shot examples,
and whether the server is called in completion or chat mode."""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nemo_pipeline.config import CONF_DIR
from nemo_pipeline.errors import ConfigError

__all__ = ["Prompt", "PromptConfig", "load_prompt"]

Prompt = str | list[dict[str, str]]

_FIELDS = {"system", "user", "few_shot_examples", "few_shot_template", "few_shot_separator", "mode"}


@dataclass(frozen=True)
class PromptConfig:
    user: str
    system: str = ""
    few_shot_examples: tuple[dict[str, str], ...] = ()
    few_shot_template: str = ""
    few_shot_separator: str = "\n\n"
    mode: str = "chat"  # "completion" or "chat"
    source: str = ""
    stop: tuple[str, ...] = field(default=())

    @functools.cached_property
    def _placeholders(self) -> frozenset[str]:
        return frozenset(name for _, name, _, _ in string.Formatter().parse(self.user) if name)

    def placeholders(self) -> set[str]:
        """Item fields the user template reads."""
        return set(self._placeholders)

    @functools.cached_property
    def _shots(self) -> str:
        """The few-shot block, the same for every item: rendered once."""
        return self.few_shot_separator.join(
            self.few_shot_template.format(**ex).rstrip("\n") for ex in self.few_shot_examples
        )

    def render(self, item: dict[str, Any]) -> Prompt:
        """The prompt for one item: a string (completion mode) or a list of chat messages."""
        missing = self._placeholders.difference(item)
        if missing:
            raise ConfigError(
                f"{self.source}: template needs field(s) {sorted(missing)} that item {item.get('id')!r} lacks"
            )
        shots = self._shots
        question = self.user.format(**item)
        body = f"{shots}{self.few_shot_separator}{question}" if shots else question
        if self.mode == "completion":
            return f"{self.system}{self.few_shot_separator}{body}" if self.system else body
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": body})
        return messages


def load_prompt(name: str, conf_dir: Path = CONF_DIR) -> PromptConfig:
    """Load conf/prompt/<name>.yaml (or a path to a yaml file), checking its keys."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else conf_dir / "prompt" / f"{name}.yaml"
    if not path.exists():
        known = sorted(
            str(p.relative_to(conf_dir / "prompt").with_suffix("")) for p in (conf_dir / "prompt").rglob("*.yaml")
        )
        raise ConfigError(f"prompt_config '{name}': no file {path}. Known prompts: {', '.join(known)}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of {sorted(_FIELDS)}")
    unknown = set(raw) - _FIELDS - {"stop"}
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; expected {sorted(_FIELDS)}")
    if "user" not in raw:
        raise ConfigError(f"{path}: missing required key 'user'")
    mode = raw.get("mode", "chat")
    if mode not in ("chat", "completion"):
        raise ConfigError(f"{path}: mode must be 'chat' or 'completion', got {mode!r}")
    examples = raw.get("few_shot_examples") or []
    if examples and not raw.get("few_shot_template"):
        raise ConfigError(f"{path}: few_shot_examples need a few_shot_template")
    return PromptConfig(
        user=raw["user"],
        system=raw.get("system") or "",
        few_shot_examples=tuple(examples),
        few_shot_template=raw.get("few_shot_template") or "",
        few_shot_separator=raw.get("few_shot_separator", "\n\n"),
        mode=mode,
        source=str(path),
        stop=tuple(raw.get("stop") or ()),
    )
