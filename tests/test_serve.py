"""The page's data — each turn's explanation, built from its Prediction and the stages recorded while it ran — with
the scripted LM in the toy world; conversations per browser tab; one turn at a time on the LM; errors as one line
while the server keeps serving; the HTTP API; and chat --verbose, which prints the same explanation."""
from __future__ import annotations

import json
import socket
import threading
import time

import dspy
import pytest
import uvicorn
from click.testing import CliRunner
from starlette.testclient import TestClient

import afirs_dspy.cli.chat as chat_cli
import afirs_dspy.cli.serve as serve_cli
from afirs_dspy.cli import main
from afirs_dspy.cli.chat import chat_command
from afirs_dspy.cli.options import DatasetSpec
from afirs_dspy.artifacts.context import MissingArtifact
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import METHODS, build_program
from afirs_dspy.explain.explanation import explain_turn
from afirs_dspy.explain.recorder import TurnRecorder
from afirs_dspy.web.app import make_app
from afirs_dspy.web.demo import Demo, Loaded
from test_cli_newcomer import STAGE_LINES
from test_eval_runner import toy_lm
from test_optimize_cli import toy  # noqa: F401  (fixture)
from toy_world import toy_context, toy_dataset

USER_3 = [4, 5, 6, 7, 8]  # user 3's test history in the toy world
COMEDY = [{"role": "user", "content": "a funny comedy please"}]


@pytest.fixture
def world(tmp_path):
    return toy_context(tmp_path)


def explained(world, lm, dialogue, history, method="afirs", config=AFIRSConfig()) -> dict:
    program = build_program(method, world, config)
    recorder = TurnRecorder(program)
    with dspy.context(lm=lm), recorder.watching():
        turn = program(dialogue=dialogue, history=history)
    explanation = explain_turn(turn, recorder.stages, world.catalog, world.tree)
    json.dumps(explanation)  # the page receives it as JSON
    return explanation


def test_a_recommending_turn_explains_the_tree_path_the_funnel_the_decision_and_each_step(world):
    confirmed = explained(world, toy_lm(), COMEDY, USER_3)["extraction"]  # the default: one list of proposals
    # "funny comedy": each word proposes its attribute, and the toy LM confirms both.
    assert confirmed["paths"] == ["Genre > Main genres > Comedy", "Mood > Feel > funny"]
    assert [level["picked"] for level in confirmed["levels"]] == [["Genre", "Mood"], ["Main genres", "Feel"],
                                                                  ["Comedy", "funny"]]
    assert {"Genre > Main genres > Comedy", "Mood > Feel > funny"} <= set(confirmed["proposed"])
    # The paper's descent, and the LM reranking the score's shortlist, so every LM stage is explained.
    e = explained(world, toy_lm(), COMEDY, USER_3, config=AFIRSConfig(extraction="levelwise", refinement="scored"))
    decision = e["decision"]
    assert e["action"] == "recommend" and {k: decision[k] for k in ("action", "decided", "status", "notes")} == {
        "action": "recommend", "decided": "recommend", "status": "ok", "notes": []}
    # The decision from evidence writes no reason: the computed facts it read stand in for one.
    assert decision["reason"].startswith("4 of 10 items carry every extracted preference (Comedy);")
    assert e["extraction"]["levels"] == [
        {"level": 1, "shown": ["Genre", "Mood"], "picked": ["Genre"]},
        {"level": 2, "shown": ["Main genres"], "picked": ["Main genres"]},  # a single child: taken without the LM
        {"level": 3, "shown": ["Comedy", "Drama", "Horror", "Science Fiction"], "picked": ["Comedy"]},
        {"level": 4, "shown": ["Romantic comedy", "Slapstick"], "picked": []},  # where the extraction stopped
    ]
    funnel = e["funnel"]
    assert funnel["preferences"] == [{"key": "3", "items": 6, "name": "Genre > Main genres > Comedy"}]
    assert funnel["intersection"] == 6 and funnel["ranked"] == 19 and funnel["refined"] == 10
    # The 15 past the intersection hold Comedy's parent, "Main genres", and rank by that grade.
    assert [(s["stage"], s["items"]) for s in funnel["stages"]] == [("preferences", 4), ("partial", 15)]
    assert funnel["widened"] == [["Genre > Main genres > Comedy", "Genre > Main genres"]] and funnel["relaxed"] == [] and funnel["refine_status"] == "ok"
    assert e["aspects"] == [] and e["items_are"] == "recommended" and len(e["items"]) == 10
    comedies = [card for card in e["items"] if "Comedy" in card["attributes"]]
    assert comedies and all("has Comedy" in card["why"] and "with every preference" in card["why"] for card in comedies)
    assert e["items"][0]["why"].startswith("#1 of the 19 candidates")
    steps = {s["name"]: s for s in e["stages"]}
    # The session memory reads the new message (the extraction runs inside it); the summary is the session's.
    assert list(steps) == ["memory", "tool", "refine", "decide"]
    assert steps["memory"]["lm_calls"] == 3 and steps["tool"]["lm_calls"] == 0
    assert all(steps[n]["prompt_tokens"] > 0 and steps[n]["completion_tokens"] > 0 for n in ("memory", "refine", "decide"))
    assert all(s["status"] == "ok" for s in e["stages"])
    assert e["session"] == {"preferences": ["Genre > Main genres > Comedy"], "refused": [], "years": None,
                            "avoided": [], "notes": [], "rejected": [], "excluded": 0}
    levelwise_lines = ["in force: Genre > Main genres > Comedy",  # the descent keeps one node per level
                       "ranked 19 candidates (4 with every preference, 15 with some)",
                       "refined: chose 10 of 15 candidates", "decided: recommend"]
    assert [s["line"] for s in e["stages"]] == levelwise_lines  # chat's lines, from the same recorder


def test_an_asking_turn_shows_the_aspect_distribution_and_the_list_it_would_recommend(world):
    e = explained(world, toy_lm(), [{"role": "user", "content": "something dark"}], [1, 2, 3])
    assert e["action"] == "ask" and e["items_are"] == "would recommend now" and len(e["items"]) == 10
    (aspect,) = e["aspects"]
    assert aspect["path"] == "Genre > Main genres" and aspect["total"] == e["candidates"] == 21
    assert aspect["options"][0] == {"name": "Comedy", "items": 6} and sum(o["items"] for o in aspect["options"]) == 21
    # The scripted question names moods, not genres: replaced by the template, and the page says so.
    assert {s["name"]: s["status"] for s in e["stages"]}["ask"] == "fallback" and e["repaired"] == ["ask fallback"]


def test_a_retried_and_replaced_step_is_merged_and_marked(world):
    lm = toy_lm()
    lm.rules["[[ ## candidates ## ]]"] = {"selected": "[99]"}  # never among the candidates
    e = explained(world, lm, COMEDY, USER_3, config=AFIRSConfig(refinement="lm"))  # the paper's refinement retries
    refine = next(s for s in e["stages"] if s["name"] == "refine")
    assert refine["calls"] == 2 and refine["lm_calls"] == 2 and refine["status"] == "fallback"
    assert any("99" in note for note in refine["notes"]) and e["funnel"]["refine_status"] == "fallback"


def test_steps_the_explanation_does_not_know_still_show_with_their_status(world):
    trace = [{"step": "relax_up", "status": "retried", "errors": [], "note": "widened dark to Feel"},
             {"step": "decide", "status": "ok", "errors": []}]
    turn = dspy.Prediction(action="ask", items=[], question="Comedy or Drama?", reply="Comedy or Drama?",
                           trace=trace, candidates=[1, 2, 3, 4], preselected=None)
    e = explain_turn(turn, [], world.catalog, world.tree)
    assert e["trace"] == trace and e["repaired"] == ["relax_up retried"]
    assert e["extraction"] is None and e["funnel"] is None and e["items"] == [] and e["decision"]["reason"] is None
    assert e["aspects"][0]["options"] == [{"name": "Comedy", "items": 1}, {"name": "Drama", "items": 1},
                                          {"name": "Horror", "items": 1}, {"name": "Science Fiction", "items": 1}]


def events(demo: Demo, session: str, text: str, user: str | None = "3", method: str = "afirs") -> list[tuple[str, dict]]:
    return list(demo.events(session, text, method, user))


def test_each_tab_keeps_its_own_conversation_and_a_new_method_or_user_starts_over(world):
    demo = Demo(lambda: Loaded(world, toy_lm()), list(METHODS))
    first = events(demo, "tab-a", "a comedy please")
    assert first[-1][0] == "turn" and first[-1][1]["turn"] == 1 and first[-1][1]["action"] == "ask"
    other = events(demo, "tab-b", "something dark", user=None)
    assert other[-1][1]["turn"] == 1
    second = events(demo, "tab-a", "funny")  # tab a's opener plus this answer: genre and mood known
    assert second[-1][1]["turn"] == 2 and second[-1][1]["action"] == "recommend"
    assert [m["content"] for m in demo.conversation("tab-a", "afirs", "3").dialogue][::2] == ["a comedy please", "funny"]
    assert len(demo.conversation("tab-b", "afirs", None).dialogue) == 2
    assert events(demo, "tab-a", "a comedy please", method="no-refine")[-1][1]["turn"] == 1


def test_tabs_take_turns_on_the_lm_and_a_waiting_tab_is_told(world):
    lm, active, most = toy_lm(), [0], [0]
    lock = threading.Lock()

    def counted(rule):
        def answer(prompt):
            with lock:
                active[0] += 1
                most[0] = max(most[0], active[0])
            time.sleep(0.05)
            with lock:
                active[0] -= 1
            return rule(prompt) if callable(rule) else rule
        return answer

    lm.rules = {marker: counted(rule) for marker, rule in lm.rules.items()}
    demo = Demo(lambda: Loaded(world, lm), list(METHODS))
    demo.loaded()
    results: dict[str, list] = {}
    threads = [threading.Thread(target=lambda s=s: results.__setitem__(s, events(demo, s, "a funny comedy please")))
               for s in ("tab-a", "tab-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert most[0] == 1
    assert all(r[-1][0] == "turn" for r in results.values())
    assert sum(any(name == "waiting" for name, _ in r) for r in results.values()) == 1


def test_a_missing_artifact_is_one_line_in_the_page_and_the_next_message_loads_again(world):
    built = [False]

    def load() -> Loaded:
        if not built[0]:
            raise MissingArtifact("no preference tree at /x/tree.json; run `afirs-dspy build-tree --dataset ml-latest-small`")
        return Loaded(world, toy_lm())

    demo = Demo(load, list(METHODS))
    assert demo.info()["error"] == "no preference tree at /x/tree.json; run `afirs-dspy build-tree --dataset ml-latest-small`"
    assert events(demo, "tab", "a funny comedy please") == [
        ("error", {"message": "no preference tree at /x/tree.json; run `afirs-dspy build-tree --dataset ml-latest-small`"})]
    built[0] = True  # the user ran the command
    assert demo.info()["error"] is None and events(demo, "tab", "a funny comedy please")[-1][0] == "turn"


def test_an_unexpected_error_is_one_line_and_the_conversation_goes_on(world):
    lm, failures = toy_lm(), [1]
    decide = lm.rules["[[ ## items ## ]]"]

    def flaky(prompt):
        if failures[0]:
            failures[0] -= 1
            raise RuntimeError("engine hiccup\nTraceback (most recent call last): …")
        return decide(prompt)

    lm.rules["[[ ## items ## ]]"] = flaky
    demo = Demo(lambda: Loaded(world, lm), list(METHODS))
    failed = events(demo, "tab", "a funny comedy please")
    assert failed[-1][0] == "error" and "Traceback" not in failed[-1][1]["message"]
    assert failed[-1][1]["message"].endswith("(the server's log has the details)")
    again = events(demo, "tab", "a funny comedy please")
    assert again[-1][0] == "turn" and again[-1][1]["turn"] == 1  # the failed message was not kept


def test_the_http_api_streams_each_stage_before_the_turn(world):
    client = TestClient(make_app(Demo(lambda: Loaded(world, toy_lm()), list(METHODS))))
    assert "composer" in client.get("/").text and client.get("/static/app.js").status_code == 200
    info = client.get("/api/info").json()
    assert info["dataset"] == "ml-latest-small" and info["methods"][0] == "afirs" and info["users"][3]["id"] == "3"
    assert client.post("/api/reset", json={"session": "s", "method": "afirs", "user": "3"}).json() == {"ok": True}
    body = client.post("/api/turn", json={"session": "s", "text": "a funny comedy please", "method": "afirs", "user": "3"}).text
    blocks = [block.split("\n") for block in body.strip().split("\n\n")]
    names = [lines[0].removeprefix("event: ") for lines in blocks]
    data = [json.loads(lines[1].removeprefix("data: ")) for lines in blocks]
    assert names[-1] == "turn" and set(names[:-1]) == {"stage"}
    assert [d["line"] for d in data[:-1] if d["line"]] == list(STAGE_LINES)
    assert client.post("/api/turn", json={"text": "hi"}).json() == {"error": "the request needs a JSON object with a session id"}
    assert client.post("/api/reset", json={"session": "s", "method": "nope"}).status_code == 400


def test_serve_on_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--port", str(port)])
    assert result.exit_code == 1 and result.output.startswith(f"Error: cannot listen on 127.0.0.1:{port} (")
    assert result.output.strip().endswith("choose another --port") and len(result.output.strip().splitlines()) == 1


def test_chat_verbose_prints_the_same_explanation(toy):
    result = CliRunner().invoke(chat_command, ["--user", "3", "--verbose", "--quiet"], input="a funny comedy please\n")
    assert result.exit_code == 0, result.output
    assert "proposed: Genre > Main genres > Comedy" in result.output
    assert "tree level 3: picked Comedy, funny of Comedy, funny" in result.output
    assert ("funnel: items under Genre > Main genres > Comedy 6, Mood > Feel > funny 8 → 2 under all → 19 candidates"
            in result.output)
    assert "steps: memory " in result.output and "action: recommend (2 of 10 items carry every extracted preference (Comedy, funny)" in result.output


def _served_app(monkeypatch, *options: str):
    """The app ``afirs-dspy serve`` would run with ``options`` (uvicorn is not started) and the command's output."""
    apps = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **settings: apps.append(app))
    result = CliRunner().invoke(main, ["serve", "--port", "0", *options])
    assert result.exit_code == 0, result.output
    return TestClient(apps[0]), result.output


def test_serve_loads_the_dataset_artifacts_and_lm_on_the_first_request(toy, monkeypatch):
    monkeypatch.setattr(serve_cli, "load_context", chat_cli.load_context)  # the toy world's
    client, output = _served_app(monkeypatch, "--method", "no-refine", "--artifacts-dir", str(toy))
    assert output.startswith("afirs-dspy serve: open http://127.0.0.1:0/")
    info = client.get("/api/info").json()
    assert info["error"] is None and info["methods"][0] == "no-refine" and len(info["methods"]) == len(METHODS)
    body = client.post("/api/turn", json={"session": "s", "text": "a funny comedy please", "method": "no-refine",
                                          "user": "3"}).text
    assert "event: turn" in body and "refined: chose" not in body  # no-refine ran


def test_serve_without_artifacts_says_in_the_page_what_to_run(monkeypatch, tmp_path):
    monkeypatch.setattr(DatasetSpec, "load", lambda self, force=False: toy_dataset())
    client, _ = _served_app(monkeypatch, "--artifacts-dir", str(tmp_path / "empty"))
    error = client.get("/api/info").json()["error"]
    assert error.startswith("no preference tree at ") and error.endswith("run `afirs-dspy build-tree --dataset ml-latest-small`")
    body = client.post("/api/turn", json={"session": "s", "text": "hello", "method": "afirs"}).text
    assert body == f"event: error\ndata: {json.dumps({'message': error})}\n\n"
