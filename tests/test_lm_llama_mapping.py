"""DSPy canonical request/response <-> llama-cpp-python chat completion mapping (no llama.cpp needed)."""
import pytest
from dspy.lm15 import (
    Config,
    ContextLengthError,
    FunctionTool,
    ImagePart,
    Message,
    Request,
    UnsupportedFeatureError,
)

from afirs_dspy.lm.llama_mapping import (
    JsonConstraint,
    SamplingDefaults,
    chat_messages,
    context_overflow,
    json_constraint,
    response_from_completion,
    sampling_arguments,
    schema_fallback_adaptation,
)

SCHEMA = {"type": "object", "properties": {"decision": {"enum": ["recommend", "ask"]}}, "required": ["decision"]}


def request(*messages, **kwargs):
    return Request(model="local/m", messages=messages or (Message.user("hi"),), **kwargs)


def test_system_and_turns_become_chat_messages():
    req = request(Message.user("u1"), Message.assistant("a1"), Message.user("u2"), system="sys")
    assert chat_messages(req) == [{"role": "system", "content": "sys"}, {"role": "user", "content": "u1"},
                                  {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}]


@pytest.mark.parametrize("bad", [
    dict(messages=(Message.user([ImagePart(media_type="image/png", url="https://x/y.png")]),)),
    dict(messages=(Message.user("hi"),), tools=(FunctionTool(name="search", parameters={"type": "object"}),)),
])
def test_what_llama_cannot_take_is_refused(bad):
    with pytest.raises(UnsupportedFeatureError):
        chat_messages(Request(model="local/m", **bad))


def test_unset_sampling_settings_get_the_explicit_defaults():
    defaults = SamplingDefaults()
    arguments = sampling_arguments(Config(), defaults)
    assert arguments == {"temperature": 0.0, "max_tokens": 1024, "seed": 0, "top_p": 0.95, "top_k": 40,
                         "min_p": 0.05, "repeat_penalty": 1.0, "frequency_penalty": 0.0, "presence_penalty": 0.0,
                         "stop": []}


def test_request_settings_win_over_defaults():
    config = Config(temperature=0.7, max_tokens=12, seed=5, top_p=0.5, top_k=3, stop=("###",), presence_penalty=0.1)
    arguments = sampling_arguments(config, SamplingDefaults())
    assert (arguments["temperature"], arguments["max_tokens"], arguments["seed"]) == (0.7, 12, 5)
    assert (arguments["top_p"], arguments["top_k"], arguments["stop"]) == (0.5, 3, ["###"])
    assert arguments["presence_penalty"] == 0.1


def test_settings_without_a_llama_equivalent_are_refused():
    with pytest.raises(UnsupportedFeatureError, match="logprobs"):
        sampling_arguments(Config(logprobs=2), SamplingDefaults())


def test_response_formats_become_json_constraints():
    assert json_constraint(Config()) is None
    assert json_constraint(Config(response_format={"type": "json_object"})) == JsonConstraint(schema=None)
    schema_format = {"type": "json_schema", "schema": SCHEMA, "name": "Out", "strict": True}
    assert json_constraint(Config(response_format=schema_format)) == JsonConstraint(schema=SCHEMA)


def test_completion_becomes_a_response_with_usage():
    completion = {"id": "chatcmpl-1", "choices": [{"message": {"role": "assistant", "content": '{"a": 1}'},
                                                   "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37}}
    response = response_from_completion(completion, "local/m", (schema_fallback_adaptation(),))
    assert (response.text, response.model, response.finish_reason) == ('{"a": 1}', "local/m", "stop")
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (30, 7, 37)
    assert response.adaptations[0].applied == "json_object"


def test_length_finish_is_kept_and_empty_content_is_text():
    completion = {"choices": [{"message": {"content": None}, "finish_reason": "length"}], "usage": {}}
    response = response_from_completion(completion, "local/m")
    assert response.finish_reason == "length"
    assert response.id is None and response.usage.input_tokens is None


def test_only_the_prompt_too_long_error_maps_to_context_length():
    error = context_overflow(ValueError("Requested tokens (5000) exceed context window of 4096"))
    assert isinstance(error, ContextLengthError)
    assert context_overflow(ValueError("something else")) is None
