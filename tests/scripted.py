"""Test doubles: a scripted LM that answers per signature, and a tiny deterministic embedder."""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable

import numpy as np
from dspy.clients.engines.dummy_engine import DummyEngine
from dspy.lm15 import Message, Response, TextPart, Usage
from dspy.utils import DummyLM

Rule = Callable[[str], dict] | dict


def _mentions(prompt: str, marker: str) -> bool:
    """``marker`` occurs in the prompt; an output-field marker "`[[ ## name ## ]]`" (how ChatAdapter asks for
    a field) also matches "`name`" (how the programs' JSON adapter asks for it)."""
    output_field = re.fullmatch(r"`\[\[ ## (\w+) ## \]\]`", marker)
    return marker in prompt or bool(output_field and f"`{output_field.group(1)}`" in prompt)


class _RuleEngine(DummyEngine):
    def _complete_messages(self, messages):
        owner = self.owner
        prompt = messages[-1]["content"]
        for marker, rule in owner.rules.items():
            if _mentions(prompt, marker):
                owner.calls[marker] += 1
                answer = rule(prompt) if callable(rule) else rule
                output = answer if isinstance(answer, str) else owner._format_answer_fields(answer)
                break
        else:
            raise AssertionError(f"no scripted rule matches the prompt:\n{prompt[:500]}")
        return Response(id=None, model="scripted", message=Message.assistant([TextPart(output)]),
                        finish_reason="stop", usage=Usage(input_tokens=len(prompt) // 4, output_tokens=len(output) // 4,
                                                          total_tokens=(len(prompt) + len(output)) // 4))


class ScriptedLM(DummyLM):
    """Answers each call with the first rule whose marker (e.g. an input field header such as
    ``"[[ ## user_responses ## ]]"``) occurs in the prompt; a rule is an answer dict, a raw
    string, or a function of the prompt. ``calls`` counts the calls per marker."""

    def __init__(self, rules: dict[str, Rule]):
        super().__init__([])
        self.rules = rules
        self.calls: Counter = Counter()
        self._engine_spec = _RuleEngine(self)

    def copy(self, **kwargs):
        copied = super().copy(**kwargs)
        copied.rules, copied.calls = self.rules, self.calls
        copied._engine_spec = _RuleEngine(copied)
        return copied


def field(prompt: str, name: str) -> str:
    """The text of input field ``name`` in a ChatAdapter prompt."""
    match = re.search(rf"\[\[ ## {name} ## \]\]\n(.*?)(?=\n\n(?:\[\[ ## |Respond with)|\Z)", prompt, re.S)
    return match.group(1) if match else ""


def listed(prompt: str, name: str) -> list[str]:
    """The items of list input field ``name``: a JSON array (ChatAdapter) or one per line (the programs' adapter)."""
    text = field(prompt, name)
    return json.loads(text) if text.startswith("[") else text.splitlines()


class BagOfWordsEmbedder:
    """Hashed bag of lower-cased words, L2-normalised: similar wording → similar vectors."""

    name = "bag-of-words-test"

    def __init__(self, dim: int = 256):
        self.dim = dim

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)
