"""`afirs-dspy serve`'s page in a headless chromium (selenium): open it as a user, say a message, read the turn.

Used by tests/test_serve_browser.py (the toy world) and bench/serve_conversation.py (the real data and model).
"""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from dataclasses import dataclass

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browser_paths() -> tuple[str | None, str | None]:
    """(browser, chromedriver) found on PATH, either None where missing."""
    return next(filter(None, map(shutil.which, BROWSERS)), None), shutil.which("chromedriver")


@dataclass
class Turn:
    reply: str  # the assistant message's text, with its "turn k · action" line
    items: list[str]  # the item cards' titles, as shown
    session: str  # the explanation's Session section: preferences in force, left out, critiques


@contextmanager
def page_as_user(url: str, user: str, seconds: float = 20, size: str = "1400,1000"):
    """A headless chromium on the page at ``url``, talking as ``user``: yields a ``say(text) -> Turn``
    function and the selenium driver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.wait import WebDriverWait

    browser, chromedriver = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={size}"):
        options.add_argument(argument)
    page = webdriver.Chrome(options=options, service=Service(chromedriver))
    try:
        page.get(url)
        wait = WebDriverWait(page, seconds)
        wait.until(lambda p: len(p.find_elements(By.CSS_SELECTOR, "#user option")) > 1)
        Select(page.find_element(By.ID, "user")).select_by_value(user)

        def say(text: str) -> Turn:
            replies = len(page.find_elements(By.CSS_SELECTOR, ".msg.assistant")) + 1
            page.find_element(By.ID, "input").send_keys(text)
            page.find_element(By.ID, "send").click()
            wait.until(lambda p: len(p.find_elements(By.CSS_SELECTOR, ".msg.assistant")) == replies)
            return Turn(page.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1].text,
                        [card.text for card in page.find_elements(By.CSS_SELECTOR, "#explanation .card .title")],
                        page.find_element(By.CSS_SELECTOR, "#explanation .session").text)

        yield say, page
    finally:
        page.quit()
