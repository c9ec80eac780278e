"""Translation between DSPy's canonical requests/responses (``dspy.lm15``) and llama-cpp-python's chat API.

Pure functions: no model, no llama_cpp import. What llama.cpp cannot honour is refused with an lm15 error
(DSPy reports it as an unsupported feature) rather than silently dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dspy.lm15 import (
    Adaptation,
    Config,
    ContextLengthError,
    Message,
    Request,
    Response,
    TextPart,
    UnsupportedFeatureError,
    Usage,
)

# Config fields this engine has no home for; DSPy leaves them unset unless a caller asks.
_UNSUPPORTED_CONFIG = ("tool_choice", "reasoning", "cache", "logprobs", "probabilities", "service_tier",
                       "user_id", "store", "extensions")
# llama-cpp-python's only signal that the prompt does not fit (llama.py, create_completion).
_CONTEXT_OVERFLOW = re.compile(r"Requested tokens \(\d+\) exceed context window")


@dataclass(frozen=True)
class SamplingDefaults:
    """Used where a request leaves a setting unset; greedy by default, so runs repeat."""

    temperature: float = 0.0
    max_tokens: int = 1024
    seed: int = 0
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0


@dataclass(frozen=True)
class JsonConstraint:
    """Constrain decoding to JSON: to ``schema`` when given, else to any JSON object."""

    schema: dict[str, Any] | None


def _text(parts: Any, where: str) -> str:
    if isinstance(parts, str):
        return parts
    if not all(isinstance(part, TextPart) for part in parts):
        raise UnsupportedFeatureError(f"the local llama.cpp engine takes text only; {where} has other parts",
                                      feature="non-text input")
    return "".join(part.text for part in parts)


def chat_messages(request: Request) -> list[dict[str, str]]:
    """OpenAI-style chat messages for llama.cpp's chat template."""
    if request.tools:
        raise UnsupportedFeatureError("the local llama.cpp engine does not call tools", feature="tools")
    messages = []
    if request.system is not None:
        messages.append({"role": "system", "content": _text(request.system, "the system prompt")})
    for index, message in enumerate(request.messages):
        if message.role not in ("user", "assistant"):
            raise UnsupportedFeatureError(f"the local llama.cpp engine has no {message.role!r} role",
                                          feature=f"role:{message.role}")
        messages.append({"role": message.role, "content": _text(message.parts, f"message {index}")})
    return messages


def sampling_arguments(config: Config, defaults: SamplingDefaults) -> dict[str, Any]:
    """Keyword arguments for ``Llama.create_chat_completion`` (all explicit, none left to llama's defaults)."""
    refused = [name for name in _UNSUPPORTED_CONFIG if getattr(config, name) is not None]
    if refused:
        raise UnsupportedFeatureError(f"the local llama.cpp engine does not support {', '.join(refused)}",
                                      feature=refused[0])

    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    return {
        "temperature": pick(config.temperature, defaults.temperature),
        "max_tokens": pick(config.max_tokens, defaults.max_tokens),
        "seed": pick(config.seed, defaults.seed),
        "top_p": pick(config.top_p, defaults.top_p),
        "top_k": pick(config.top_k, defaults.top_k),
        "min_p": defaults.min_p,
        "repeat_penalty": defaults.repeat_penalty,
        "frequency_penalty": pick(config.frequency_penalty, 0.0),
        "presence_penalty": pick(config.presence_penalty, 0.0),
        "stop": list(config.stop),
    }


def json_constraint(config: Config) -> JsonConstraint | None:
    """What DSPy's JSONAdapter asked for: a schema (structured outputs), any JSON object, or nothing."""
    response_format = config.response_format
    if response_format is None:
        return None
    if response_format["type"] == "json_schema":
        return JsonConstraint(schema=response_format["schema"])
    return JsonConstraint(schema=None)


def schema_fallback_adaptation() -> Adaptation:
    """Recorded on the response when llama.cpp could not compile the schema and any JSON object was allowed."""
    return Adaptation(
        field="config.response_format", action="substituted",
        reason="llama.cpp could not turn the JSON schema into a grammar; decoding was constrained to any JSON object",
        asked="json_schema", applied="json_object",
    )


def free_decoding_adaptation(config: Config) -> Adaptation:
    """Recorded on the response when ``LlamaSettings(grammar="off")`` left the asked JSON format to the parser."""
    return Adaptation(
        field="config.response_format", action="client_side",
        reason="decoded without a grammar (LlamaSettings.grammar='off'); the adapter parses and validates the JSON",
        asked=config.response_format["type"],
    )


def response_from_completion(completion: dict[str, Any], model: str, adaptations: tuple[Adaptation, ...] = (),
                             reused_tokens: int | None = None) -> Response:
    """A ``dspy.lm15.Response`` (with token usage, so DSPy's usage tracking and history work); prompt tokens
    resumed from a saved KV state are reported as cache reads (``prompt_tokens_details.cached_tokens``)."""
    choice = completion["choices"][0]
    usage = completion.get("usage") or {}
    return Response(
        id=completion.get("id") or None,
        model=model,
        message=Message.assistant(choice["message"].get("content") or ""),
        finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
        usage=Usage(input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens"),
                    cache_read_tokens=reused_tokens),
        adaptations=adaptations,
    )


def context_overflow(error: Exception) -> ContextLengthError | None:
    """The lm15 error for llama.cpp's prompt-too-long ValueError (DSPy maps it to ContextWindowExceededError)."""
    if isinstance(error, ValueError) and _CONTEXT_OVERFLOW.search(str(error)):
        return ContextLengthError(str(error))
    return None
