"""``afirs-dspy serve``'s page in a real browser (Debian's chromium through selenium): the app serves the toy world
with a scripted LM on a free loopback port; the test types a message and reads the reply, the tree path and the funnel.

In CI (``CI`` set) a missing browser fails the test (.ci/run installs it); elsewhere it skips with the reason.
A screenshot of the page is kept in the test's tmp folder and, in CI, in ``test-artifacts/``.
"""
from __future__ import annotations

import os
import shutil
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from afirs_dspy.domain.preference_tree import PreferenceTree, TreeNode
from afirs_dspy.programs.registry import METHODS
from afirs_dspy.recsys.item_index import ItemIndex
from afirs_dspy.web.app import make_app
from afirs_dspy.web.demo import Demo, Loaded
from chat_in_toy_world import slowed
from test_eval_runner import toy_lm
from toy_world import N_ITEMS, toy_context

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from browser_page import browser_paths, page_as_user  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def _need_browser() -> None:
    """Fails in CI and skips elsewhere when chromium, chromedriver or selenium is missing."""
    browser, driver = browser_paths()
    try:
        import selenium  # noqa: F401
        missing = None if browser and driver else "chromium and chromedriver (apt-get install chromium chromium-driver)"
    except ImportError:
        missing = 'selenium (pip install -e ".[test]")'
    if missing:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"the browser test needs {missing}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(context):
    """The page's app for ``context`` on a free loopback port, in a thread; its LM takes 0.3 s a call, so progress
    shows. Yields the page's address."""
    demo = Demo(lambda: Loaded(context, slowed(toy_lm(), 0.3)), list(METHODS))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(demo), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def server(tmp_path):
    yield from serve(toy_context(tmp_path))


@pytest.fixture
def zombie_server(tmp_path):
    """The toy world with a "zombies" tag (every third film from Film 1) under a Theme > Creatures branch."""
    context = toy_context(tmp_path)
    tree = context.tree
    zombies = tuple(i for i in range(1, N_ITEMS + 1) if i % 3 == 1)
    for i in zombies:
        context.catalog.attributes[i] = [*context.catalog.attributes[i], "zombies"]
    nodes = [*tree.nodes, TreeNode(14, "Theme", 1, 0), TreeNode(15, "Creatures", 2, 14),
             TreeNode(16, "zombies", 3, 15, zombies)]
    context.tree = PreferenceTree(nodes, n_items=tree.n_items, meta=tree.meta)
    context.tool.preference_index = ItemIndex.from_mapping(context.tree.item_mapping(), tree.n_items)
    yield from serve(context)


def test_a_turn_in_the_browser_shows_the_reply_the_tree_path_and_the_funnel(server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    _need_browser()
    with page_as_user(server, "3") as (_, page):
        page.find_element(By.ID, "input").send_keys("a funny comedy please")
        page.find_element(By.ID, "send").click()
        # The scripted LM takes 0.3 s a call: stage lines appear while the turn runs, before the reply.
        wait = WebDriverWait(page, 20)
        wait.until(lambda p: p.find_elements(By.CSS_SELECTOR, "#progress .stage"))
        assert not page.find_elements(By.CSS_SELECTOR, ".msg.assistant")
        wait.until(lambda p: p.find_elements(By.CSS_SELECTOR, ".msg.assistant"))
        reply = page.find_element(By.CSS_SELECTOR, ".msg.assistant").text
        tree = page.find_element(By.CSS_SELECTOR, "#explanation .tree-path")
        funnel = page.find_element(By.CSS_SELECTOR, "#explanation .funnel").text
        screenshot = tmp_path / "serve-turn.png"
        page.save_screenshot(str(screenshot))
        if os.environ.get("CI"):
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copy(screenshot, ARTIFACTS / screenshot.name)
        assert "You might like: " in reply and "afirs · turn 1 · recommend" in reply
        picked = [chip.text for chip in tree.find_elements(By.CSS_SELECTOR, ".chip.picked")]
        assert picked == ["Genre", "Mood", "Main genres", "Feel", "Comedy", "funny"]  # "funny" and "comedy" each
        assert "level 3" in tree.text  # the path, level by level
        assert "proposed by similarity" in page.find_element(By.ID, "explanation").text  # what the LM was shown
        assert "under Genre > Main genres > Comedy" in funnel and "ranked with every preference" in funnel
        assert "parents counted half" in page.find_element(By.ID, "explanation").text
        assert "refined" in funnel
        assert not page.find_element(By.ID, "problem").is_displayed()


def test_the_second_message_keeps_the_session_and_critiques_the_first_list(zombie_server, tmp_path):
    """Issue 31's conversation in the page: the second message rejects the first list, asks for more recent
    films and for no cartoon; the zombies, the horror and the comedy stay in force."""
    _need_browser()
    with page_as_user(zombie_server, "3", seconds=30) as (say, page):
        first = say("I'm in the mood for a horror movie with zombies, but also funny.")
        second = say("No, I've seen those. Something more recent please, not a cartoon.")
        page.save_screenshot(str(tmp_path / "serve-second-turn.png"))
        first_reply, second_reply, session = first.reply, second.reply, second.session
        first, second = ([int(title.split()[1]) for title in turn.items] for turn in (first, second))
        assert "turn 1 · recommend" in first_reply and "turn 2 · recommend" in second_reply
        for kept in ("Horror", "zombies", "funny"):
            assert kept in session, session  # in force on the second turn
        assert f"left out: {len(first)} shown before" in session and "years:" in session
        assert first and second and not set(first) & set(second)  # none of the first list again
        assert statistics.median(second) > statistics.median(first)  # Film i came out in 1990 + i: later
