"""`blobmaster serve` end to end: a real headless Chromium (Debian's
`chromium` and `chromium-driver`, driven by Selenium) plays a whole round by
clicking, against a server started here on 127.0.0.1.

Skipped, with the reason, only where no browser is installed; `.ci/run`
installs Debian's chromium so that it runs in CI. Set BLOBMASTER_SCREENSHOT
to a PNG path to save a picture of the table in the middle of the round.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import blobmaster as bm
from blobmaster.serve import create_app
from blobmaster.serve.app import GameStore

TIME_LIMIT = 60.0  # seconds for the whole round; a hang fails instead of blocking CI

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
selenium = pytest.importorskip("selenium", reason="selenium is not installed (pip install .[test])")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no headless browser: Debian's chromium and chromium-driver are not installed "
    "(apt-get install chromium chromium-driver; .ci/run does it when run as root)",
)


@pytest.fixture
def server() -> Iterator[tuple[str, GameStore]]:
    """The web table on a free port of 127.0.0.1, in a thread; stopped after the test."""
    import uvicorn

    store = GameStore()
    app = create_app(bm.Agent.heuristic(), delay=0, store=store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web table did not start within 15 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/", store
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,950",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def page_state(driver: Any) -> str:
    return driver.execute_script("return document.body.dataset.state")


def start_game(driver: Any, url: str | None, *, players: int, cards: int, one_round: bool) -> None:
    """Opens the page (or, with url None, the New game dialog) and starts a game."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    if url is None:
        driver.find_element(By.ID, "new-button").click()
    else:
        driver.get(url)
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "setup").get_attribute("open") is not None
    )
    Select(driver.find_element(By.ID, "players")).select_by_visible_text(str(players))
    field = driver.find_element(By.ID, "cards")
    field.clear()
    field.send_keys(str(cards))
    box = driver.find_element(By.ID, "one-round")
    if box.is_selected() != one_round:
        box.click()
    driver.find_element(By.ID, "start-button").click()


def play_by_clicking(
    driver: Any, *, screenshot: str | None = None, stop_after: int | None = None
) -> list[str]:
    """Clicks the first allowed bid or the highest legal card until the game
    is over (or after ``stop_after`` clicks); returns what was clicked."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    deadline = time.monotonic() + TIME_LIMIT
    clicked: list[str] = []
    while stop_after is None or len(clicked) < stop_after:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the round took over {TIME_LIMIT} s; clicked {clicked}"
        state = WebDriverWait(driver, remaining).until(
            lambda d: page_state(d) in ("your-bid", "your-card", "over") and page_state(d)
        )
        if state == "over":
            break
        if state == "your-bid":
            target = driver.find_elements(By.CSS_SELECTOR, "#bids button:not([disabled])")[0]
            clicked.append("bid " + target.get_attribute("data-bid"))
        else:
            legal = driver.find_elements(By.CSS_SELECTOR, "#hand button.card.legal")
            assert legal, "no card is highlighted as legal on the person's turn"
            target = legal[0]
            clicked.append(target.get_attribute("data-card"))
            if screenshot and sum(c[0] != "b" for c in clicked) == 2:
                driver.save_screenshot(screenshot)
        target.click()
    return clicked


def test_a_whole_round_by_clicking_in_a_real_browser(
    server: tuple[str, GameStore], browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    url, store = server
    # a full game, left after the first bid for a new one: the page frees it
    start_game(browser, url, players=5, cards=4, one_round=False)
    assert play_by_clicking(browser, stop_after=1)[0].startswith("bid ")
    assert len(store) == 1
    start_game(browser, None, players=4, cards=3, one_round=True)
    clicked = play_by_clicking(browser, screenshot=os.environ.get("BLOBMASTER_SCREENSHOT"))
    assert len(clicked) == 4 and clicked[0].startswith("bid ")  # a bid and three cards
    assert page_state(browser) == "over"
    assert browser.find_element(By.ID, "status").text.startswith("Game over.")
    # the scoreboard: one finished round whose tricks add up to the 3 dealt
    rows = browser.find_elements(By.CSS_SELECTOR, "#scores tr")[1:]
    assert len(rows) == 4
    won = [int(r.find_elements(By.TAG_NAME, "td")[2].text) for r in rows]
    assert sum(won) == 3
    assert len(browser.find_elements(By.CSS_SELECTOR, "#history tr")) == 2
    log = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#log li")]
    assert len(log) == 16 + 3 + 1  # 16 moves, 3 trick winners, the round's result
    # the moves the person clicked are the ones the server played for them
    assert log[0] == f"You {clicked[0]}"
    assert [x.removeprefix("You play ") for x in log if x.startswith("You play")] == clicked[1:]
    assert len(store) == 0  # the finished game was freed with its last response
    # the replay of the last trick draws its four cards again
    browser.find_element(By.ID, "replay-button").click()
    time.sleep(0.1)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#trick .card")) >= 1
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
