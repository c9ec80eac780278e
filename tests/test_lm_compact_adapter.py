"""The programs' adapter: short stable system messages, JSON answers, one LM call per attempt."""
import dspy
import pytest
from dspy.utils.exceptions import AdapterParseError

from afirs_dspy.lm.compact_adapter import CompactJSONAdapter, compact_type, program_adapter
from afirs_dspy.lm.llama_engine import LlamaEngine
from afirs_dspy.lm.model_files import GgufFile
from afirs_dspy.programs.predictors import OUTPUT_TOKENS, predictor
from afirs_dspy.signatures import DecideAction, RefineCandidates, SelectNodes, SummarizePreferences, UserPreferences
from scripted import ScriptedLM
from test_lm_llama_engine import FakeLlama, FakeRuntime

REFINE_INPUTS = {"preferences": UserPreferences(likes=["zombies"]), "candidates": ["1. Shaun of the Dead", "2. Heat"],
                 "k": 1}


def test_system_message_has_no_json_schema_and_is_the_same_for_every_input():
    adapter = CompactJSONAdapter()
    first = adapter.format(SummarizePreferences, [], {"conversation": "User: a horror film"})
    second = adapter.format(SummarizePreferences, [], {"conversation": "User: something funny\nRecommender: ?"})
    assert first[0] == second[0]
    system = first[0]["content"]
    assert "JSON schema" not in system and "# note" not in system and '"$defs"' not in system
    assert '{"preferences": {"likes": list[str], "dislikes": list[str], "constraints": list[str]}}' in system
    dislikes = UserPreferences.model_fields["dislikes"].description
    assert f'"preferences.dislikes": {dislikes}' in system  # the nested model's own field descriptions
    chat = dspy.ChatAdapter().format(SummarizePreferences, [], {"conversation": "User: a horror film"})
    assert "JSON schema" in chat[0]["content"]
    structure = [adapter.format_field_structure(SummarizePreferences) for adapter in (CompactJSONAdapter(), dspy.ChatAdapter())]
    assert len(structure[0]) < 0.6 * len(structure[1])


def example_inputs(signature, variant: int) -> dict:
    """Inputs of the right types, different for each ``variant``."""
    values = {str: f"text {variant}", int: variant, list[str]: [f"item {variant}", "another"],
              UserPreferences: UserPreferences(likes=[f"like {variant}"])}
    return {name: values.get(field.annotation, "recommend") for name, field in signature.input_fields.items()}


@pytest.mark.parametrize("signature", list(OUTPUT_TOKENS), ids=lambda s: s.__name__)
def test_every_program_signature_opens_its_prompts_with_the_same_bytes(signature):
    """A prefix cache resumes a signature's system message only if it is byte-identical from call to call."""
    adapter = program_adapter(signature)
    first, second = (adapter.format(signature, [], example_inputs(signature, n)) for n in (1, 2))
    assert first[0] == second[0] and first[0]["role"] == "system"
    assert first[1]["content"] != second[1]["content"]  # the inputs differ, in the user message only


def test_the_variable_inputs_come_last_in_the_user_message():
    messages = CompactJSONAdapter().format(RefineCandidates, [], REFINE_INPUTS)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "Shaun" not in messages[0]["content"] and "zombies" not in messages[0]["content"]
    assert "[[ ## candidates ## ]]\n1. Shaun of the Dead\n2. Heat\n" in messages[1]["content"]  # one per line


def test_compact_type_renders_models_literals_and_lists_in_one_line():
    assert compact_type(list[int]) == "list[int]"
    assert compact_type(list[UserPreferences]).startswith('list[{"likes": list[str]')
    assert compact_type(DecideAction.output_fields["action"].annotation) == '"recommend" | "ask"'


def test_structured_outputs_get_compact_json_plain_ones_field_sections_without_a_resend():
    assert isinstance(program_adapter(SelectNodes), CompactJSONAdapter)
    assert isinstance(program_adapter(SummarizePreferences), CompactJSONAdapter)
    sections = program_adapter(DecideAction)
    assert type(sections) is dspy.ChatAdapter and not sections.use_json_adapter_fallback
    inputs = {"conversation": "User: something fun", "items": ["Heat (1995)"]}
    assert sections.format(DecideAction, [], inputs) == dspy.ChatAdapter().format(DecideAction, [], inputs)


@pytest.mark.parametrize("answer", ['{"selected": [2, 1]}', "[[ ## selected ## ]]\n[2, 1]\n\n[[ ## completed ## ]]"])
def test_json_and_field_section_answers_both_parse(answer):
    lm = ScriptedLM({"[[ ## nodes ## ]]": answer})
    with dspy.context(lm=lm):
        out = predictor(SelectNodes)(user_responses="zombies", nodes=["1. Genre > Comedy", "2. Genre > Horror"])
    assert out.selected == [2, 1]


@pytest.mark.parametrize("signature,inputs,marker", [
    (DecideAction, {"conversation": "User: zombies", "items": ["Shaun of the Dead"]}, "[[ ## items ## ]]"),
    (SelectNodes, {"user_responses": "zombies", "nodes": ["1. Genre > Horror"]}, "[[ ## nodes ## ]]"),
])
def test_an_unparseable_answer_costs_one_call_not_a_second_full_prompt(signature, inputs, marker):
    lm = ScriptedLM({marker: "I think you should recommend"})
    with dspy.context(lm=lm), pytest.raises(AdapterParseError):
        predictor(signature)(**inputs)
    assert lm.calls[marker] == 1
    # DSPy's default sends the whole prompt again through its JSONAdapter.
    with dspy.context(lm=lm, adapter=dspy.ChatAdapter()), pytest.raises(AdapterParseError):
        predictor(signature)(**inputs)
    assert lm.calls[marker] == 3


class Bounded(dspy.Signature):
    """Say why."""

    question: str = dspy.InputField()
    reason: str = dspy.OutputField(max_length=40)


def test_the_local_engine_gets_the_output_schema_as_a_grammar_with_max_length(tmp_path):
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    runtime = FakeRuntime(FakeLlama(lambda kwargs: '{"reason": "vague", "action": "ask"}'))
    lm = dspy.LM("local/test", engine=LlamaEngine(GgufFile(tmp_path / "m.gguf"), runtime=runtime), cache=False)
    with dspy.context(lm=lm, adapter=CompactJSONAdapter()):
        out = predictor(DecideAction)(conversation="User: a film", items=["A", "B"])
        dspy.Predict(Bounded)(question="why?")
    assert out.action == "ask"
    assert runtime.constraints[0].schema["properties"]["action"]["enum"] == ["recommend", "ask"]
    assert runtime.llama.calls[0]["messages"][-1]["content"].endswith("Respond with the JSON object (`reason`, `action`).")
    assert runtime.constraints[1].schema["properties"]["reason"]["maxLength"] == 40  # bounds the grammar too
