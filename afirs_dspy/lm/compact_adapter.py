"""The adapters the programs talk to their LM through: a short prompt, one call per attempt.

``program_adapter(signature)`` picks one per signature: ``CompactJSONAdapter`` when an output is structured (a
list, a Pydantic model) or every output is a Literal choice, DSPy's ChatAdapter field sections without its
JSONAdapter re-send when the outputs are plain values with free text among them (``reason: str``,
``action: Literal[...]``). On signature_quality's decision cases every JSON
answer format (this adapter and DSPy's own JSONAdapter alike) turned an "ask" into "recommend" that field
sections got right, while structured outputs gain from the grammar (bench/results/signature_quality.md).

DSPy's default ChatAdapter pastes each structured output's full JSON schema into the system message (a small
model may echo its "# note: the value you produce must adhere to the JSON schema" line) and, when an answer
fails to parse, sends the whole prompt again through its JSONAdapter. With a backend that enforces the schema
itself (the embedded llama.cpp model turns it into a grammar; servers with structured outputs do too), the
pasted schema only costs prompt tokens and the second call repeats the first. This adapter

* asks for a JSON object (the schema still travels as ``response_format`` where the LM takes one),
* describes each output's type in one line (``{"likes": list[str], ...}``, a Literal as ``"a" | "b"``) with
  a nested model's field descriptions below it, never as a JSON schema,
* shows a list of strings (candidates, nodes) one per line rather than as a JSON array,
* parses the answer as JSON, else as ChatAdapter field sections (models that ignore the format), and raises
  AdapterParseError otherwise, without another call (``guarded_call`` retries once, then falls back),
* bounds a string output with ``dspy.OutputField(max_length=N)`` in the schema too (``maxLength``), so a
  grammar stops a small model's rambling rather than the token budget cutting the JSON,
* keeps each signature's system message a function of the signature alone, byte-identical from call to
  call (the fields and the instruction; the inputs come last, in the user message), so a prefix cache
  (``afirs_dspy.lm.prefix_states``, or a server's prompt cache) evaluates it once.
"""
from __future__ import annotations

import inspect
from typing import Any, Literal, get_args, get_origin

import dspy
from annotated_types import MaxLen
from dspy.adapters.chat_adapter import ChatAdapter
from dspy.adapters.utils import format_field_value, get_annotation_name
from dspy.utils.exceptions import AdapterParseError
from pydantic import BaseModel


def is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def compact_type(annotation: Any) -> str:
    """A one-line type: a Pydantic model as ``{"field": type, ...}``, a Literal as ``"a" | "b"``, else its name."""
    if is_model(annotation):
        fields = ", ".join(f'"{name}": {compact_type(field.annotation)}' for name, field in annotation.model_fields.items())
        return "{" + fields + "}"
    if get_origin(annotation) is list:
        return f"list[{compact_type(get_args(annotation)[0])}]"
    if get_origin(annotation) is Literal:
        return " | ".join(f'"{value}"' if isinstance(value, str) else repr(value) for value in get_args(annotation))
    return get_annotation_name(annotation)


def model_field_notes(annotation: Any, prefix: str = "") -> list[str]:
    """``- "name.sub": description`` for each described field of a (nested) Pydantic output model."""
    notes = []
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    if is_model(annotation):
        for name, field in annotation.model_fields.items():
            if field.description:
                notes.append(f'- "{prefix}{name}": {field.description}')
            notes += model_field_notes(field.annotation, f"{prefix}{name}.")
    return notes


def structured(annotation: Any) -> bool:
    """A list, dict or Pydantic model: a value JSON and a grammar help to write."""
    return is_model(annotation) or get_origin(annotation) in (list, dict) or annotation in (list, dict)


def program_adapter(signature: type[dspy.Signature]) -> dspy.Adapter:
    """The adapter for ``signature``'s calls: compact JSON for structured outputs, else field sections; neither
    sends a prompt twice (a parse failure goes to the caller's retry)."""
    outputs = signature.output_fields.values()
    # A signature that only chooses among fixed values gets the grammar too: as a field section the small
    # model wrote "[[ ## action ## ]] = recommend" on one line, which no parser reads.
    if any(structured(f.annotation) for f in outputs) or all(get_origin(f.annotation) is Literal for f in outputs):
        return CompactJSONAdapter()
    return ChatAdapter(use_json_adapter_fallback=False)


class CompactJSONAdapter(dspy.JSONAdapter):
    def _prepare_response_format(self, lm, lm_kwargs: dict[str, Any], signature: type[dspy.Signature]) -> None:
        """DSPy's schema, plus each output field's ``max_length`` as ``maxLength``, so a grammar bounds it."""
        super()._prepare_response_format(lm, lm_kwargs, signature)
        response_format = lm_kwargs.get("response_format")
        if not is_model(response_format):
            return
        properties = response_format.model_json_schema().get("properties", {})  # DSPy returns this same dict
        for name, field in signature.output_fields.items():
            for constraint in field.metadata:
                if isinstance(constraint, MaxLen) and name in properties:
                    properties[name]["maxLength"] = constraint.max_length

    def format_field_structure(self, signature: type[dspy.Signature]) -> str:
        inputs = "\n\n".join(f"[[ ## {name} ## ]]\n{{{name}}}" for name in signature.input_fields)
        outputs = ", ".join(f'"{name}": {compact_type(field.annotation)}'
                            for name, field in signature.output_fields.items())
        notes = [note for name, field in signature.output_fields.items()
                 for note in model_field_notes(field.annotation, f"{name}.")]
        return "\n".join([f"Inputs come as:\n\n{inputs}\n\nAnswer with one JSON object: {{{outputs}}}", *notes])

    def format_user_message_content(self, signature: type[dspy.Signature], inputs: dict[str, Any], prefix: str = "",
                                    suffix: str = "", main_request: bool = False) -> str:
        """As DSPy's, except that a list of strings is one item per line (no JSON quotes and commas)."""
        parts = [prefix]
        for name, field in signature.input_fields.items():
            if name in inputs:
                value = inputs[name]
                text = ("\n".join(value) if isinstance(value, list) and value and all(isinstance(v, str) for v in value)
                        else format_field_value(field_info=field, value=value))
                parts.append(f"[[ ## {name} ## ]]\n{text}")
        if main_request:
            parts.append(self.user_message_output_requirements(signature))
        parts.append(suffix)
        return "\n\n".join(part for part in parts if part).strip()

    def user_message_output_requirements(self, signature: type[dspy.Signature]) -> str:
        return f"Respond with the JSON object ({', '.join(f'`{name}`' for name in signature.output_fields)})."

    def parse(self, signature: type[dspy.Signature], completion: str) -> dict[str, Any]:
        try:
            return super().parse(signature, completion)
        except AdapterParseError as as_json:
            try:
                return ChatAdapter().parse(signature, completion)
            except AdapterParseError:
                raise as_json from None
