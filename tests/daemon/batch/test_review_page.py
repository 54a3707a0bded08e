"""The review page in a real headless Chromium: served by the real review server on
loopback, clicked with real mouse events, verdicts checked in the sidecar on disk."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
import time

import pytest
from headless_chromium import Chromium, find
from review_output import ERROR, PROMPTS, make_output, many_entries, write_sidecar

from motionbridge.daemon.batch import approvals, review
from motionbridge.daemon.batch.review_server import ReviewServer

CARDS = "document.querySelectorAll('.card').length"
HEADINGS = "Array.from(document.querySelectorAll('.group h2')).map(h => h.firstChild.textContent)"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = find()
    if executable is None:
        pytest.fail("no chromium on PATH; install/dev_setup.sh installs it (apt-get install chromium)")
    b = Chromium(executable, tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def output(tmp_path_factory):
    out = tmp_path_factory.mktemp("review") / "out"
    make_output(out)
    return out


class Served:
    def __init__(self, out):
        self.server = ReviewServer(out, 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def served(output):
    approvals.sidecar_path(output).unlink(missing_ok=True)
    s = Served(output)
    yield s.server
    s.close()


def open_page(browser, url, mode):
    browser.console.clear()
    browser.navigate(url)
    assert browser.wait_for("document.body && document.body.dataset.ready") == mode
    # the previews in view have loaded (those further down load lazily, as the director scrolls)
    browser.wait_for("Array.from(document.images).filter(i => i.getBoundingClientRect().top < innerHeight).every(i => i.complete)")


def saved(output):
    return {n: r["verdict"] for n, r in approvals.read(approvals.sidecar_path(output)).items()}


def test_grouped_page_with_summary_on_top_and_no_html_from_prompts(browser, served, tmp_path):
    open_page(browser, served.url, "server")
    shot = browser.screenshot(tmp_path / "review.png")
    assert shot.stat().st_size > 20_000
    assert browser.evaluate(HEADINGS) == list(PROMPTS)  # take order; the injected markup shows as text
    assert browser.evaluate("document.title") == "MotionBridge batch: demo.yaml"
    assert browser.evaluate("document.querySelectorAll('script').length") == 1  # review.js only
    assert browser.evaluate("document.querySelectorAll('.group img:not([src$=\".gif\"]), h2 *:not(.meta)').length") == 0
    summary = browser.evaluate("document.getElementById('summary').textContent")
    assert summary.startswith("9 takes of 3 prompts · 8 ok · 1 failed · 0 approved · 0 rejected · 9 not reviewed")
    assert browser.evaluate(
        "document.getElementById('summary').getBoundingClientRect().bottom < document.querySelector('.group').getBoundingClientRect().top")
    # a prompt's variations side by side, by seed, with durations in seconds and real previews
    cards = browser.evaluate(
        "Array.from(document.querySelectorAll('.group')[0].querySelectorAll('.card')).map(c => {"
        " const r = c.getBoundingClientRect(), img = c.querySelector('img');"
        " return [c.dataset.name, Math.round(r.top), Math.round(r.left), c.textContent, img.naturalWidth]; })")
    assert [c[0] for c in cards] == ["p0_s0", "p0_s1", "p0_s2"]
    assert len({c[1] for c in cards}) == 1 and cards[0][2] < cards[1][2] < cards[2][2]
    assert all(f"{d} s" in c[3] for c, d in zip(cards, ("1.0", "1.5", "2.0"))) and all(c[4] == 160 for c in cards)
    assert "frames" not in browser.evaluate("document.body.textContent") and "direction_error" not in browser.evaluate("document.body.textContent")
    failed = '.card[data-name="p2_s2"]'
    assert browser.evaluate(f"document.querySelector('{failed} button.approve').disabled")
    assert ERROR in browser.evaluate(f"document.querySelector('{failed} .error').textContent")
    assert not browser.console, browser.console


def test_filters_and_sorts(browser, served):
    open_page(browser, served.url, "server")
    browser.type_into("#f-text", "jumps")
    browser.wait_for(f"{CARDS} === 3")
    assert browser.evaluate(HEADINGS) == [PROMPTS[1]]
    assert "showing 3 takes in 1 prompts" in browser.evaluate("document.getElementById('summary').textContent")
    clear_search = "document.getElementById('f-text').value = ''; document.getElementById('f-text').dispatchEvent(new Event('input'))"
    browser.evaluate(clear_search)
    browser.wait_for(f"{CARDS} === 9")
    browser.type_into("#f-text", "P1_S2")  # a take's name, any case
    browser.wait_for(f"{CARDS} === 1")
    browser.evaluate(clear_search)
    browser.wait_for(f"{CARDS} === 9")
    for selector, value, names in (
        ("#f-status", "failed", ["p2_s2"]),
        ("#f-status", "ok", [n for n in (f"p{p}_s{s}" for p in range(3) for s in range(3)) if n != "p2_s2"]),
        ("#f-status", "", None),
        ("#f-rig", "ue5_manny", ["p1_s0", "p1_s1", "p1_s2"]),
        ("#f-rig", "", None),
        ("#f-min", "1.5", ["p0_s1", "p0_s2", "p1_s1", "p1_s2", "p2_s1", "p2_s2"]),
        ("#f-max", "1.5", ["p0_s1", "p1_s1", "p2_s1"]),
    ):
        browser.choose(selector, value)
        shown = browser.evaluate("Array.from(document.querySelectorAll('.card')).map(c => c.dataset.name)")
        assert names is None or shown == names, (selector, value, shown)
    browser.choose("#f-min", "")
    browser.choose("#f-max", "")
    browser.choose("#f-sort", "prompt")
    assert browser.evaluate(HEADINGS) == [PROMPTS[1], PROMPTS[0], PROMPTS[2]]
    browser.choose("#f-sort", "status")  # the group with a failed take first
    assert browser.evaluate(HEADINGS)[0] == PROMPTS[2]
    browser.choose("#f-sort", "rig")
    assert browser.evaluate(HEADINGS) == [PROMPTS[0], PROMPTS[2], PROMPTS[1]]  # mixamo, mixamo, ue5_manny
    assert not browser.console, browser.console


def test_approve_and_reject_clicks_land_in_the_sidecar(browser, served, output):
    open_page(browser, served.url, "server")

    def click(name, button, expect):
        browser.click(f'.card[data-name="{name}"] button.{button}')
        browser.wait_for(f"document.getElementById('saving').textContent.startsWith('saved: {name}')")
        assert saved(output) == expect

    click("p0_s1", "approve", {"p0_s1": "approved"})
    click("p1_s0", "reject", {"p0_s1": "approved", "p1_s0": "rejected"})
    click("p2_s0", "approve", {"p0_s1": "approved", "p1_s0": "rejected", "p2_s0": "approved"})
    click("p0_s1", "approve", {"p1_s0": "rejected", "p2_s0": "approved"})  # a second click takes it back
    click("p1_s0", "approve", {"p1_s0": "approved", "p2_s0": "approved"})  # the other button switches
    assert browser.evaluate("document.querySelector('.card[data-name=\"p1_s0\"]').className") == "card approved"
    assert "2 approved · 0 rejected · 7 not reviewed" in browser.evaluate("document.getElementById('summary').textContent")
    record = approvals.read(approvals.sidecar_path(output))["p2_s0"]
    assert record["prompt"] == PROMPTS[2] and (record["seed"], record["duration_s"]) == (0, 1.0)
    # keyboard review: A / R on the focused take, then the focus moves on
    browser.click('.card[data-name="p0_s0"] .title')
    browser.press("r")
    browser.wait_for("document.getElementById('saving').textContent.startsWith('saved: p0_s0')")
    assert browser.evaluate("document.activeElement.dataset.name") == "p0_s1"
    browser.press("a")
    browser.wait_for("document.getElementById('saving').textContent.startsWith('saved: p0_s1')")
    assert saved(output) == {"p0_s0": "rejected", "p0_s1": "approved", "p1_s0": "approved", "p2_s0": "approved"}
    click("p0_s1", "approve", {"p0_s0": "rejected", "p1_s0": "approved", "p2_s0": "approved"})
    click("p0_s0", "reject", {"p1_s0": "approved", "p2_s0": "approved"})
    # a reload shows the saved verdicts, and the verdict filter uses them
    open_page(browser, served.url, "server")
    browser.choose("#f-status", "approved")
    assert browser.evaluate("Array.from(document.querySelectorAll('.card')).map(c => c.dataset.name)") == ["p1_s0", "p2_s0"]
    assert browser.evaluate("document.querySelector('.card[data-name=\"p1_s0\"] button.approve').getAttribute('aria-pressed')") == "true"
    browser.choose("#f-status", "unreviewed")
    assert browser.evaluate(CARDS) == 7
    assert not browser.console, browser.console


def test_opened_from_disk_it_keeps_verdicts_and_downloads_the_sidecar(browser, output, tmp_path):
    approvals.sidecar_path(output).unlink(missing_ok=True)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.call("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    open_page(browser, (output / "review" / "index.html").as_uri(), "file")
    assert browser.evaluate(CARDS) == 9 and not browser.evaluate("document.getElementById('download').hidden")
    browser.click('.card[data-name="p1_s2"] button.approve')
    browser.wait_for("document.getElementById('saving').textContent.includes('kept in this browser only')")
    browser.click("#download")
    deadline = time.monotonic() + 20
    while not (downloads / "approvals.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    records = approvals.read(downloads / "approvals.json")  # the format `batch --only` reads
    assert records == {"p1_s2": {"verdict": "approved", "take": 5, "prompt": PROMPTS[1], "seed": 2, "cfg": 5,
                                 "duration_s": 2, "rig": "ue5_manny"}}
    assert not approvals.sidecar_path(output).exists()
    open_page(browser, (output / "review" / "index.html").as_uri(), "file")  # kept across a reload
    assert browser.evaluate("document.querySelector('.card[data-name=\"p1_s2\"]').classList.contains('approved')")
    browser.evaluate("localStorage.clear()")


def test_ten_thousand_takes_open_one_page_of_groups_at_a_time(browser, output, tmp_path):
    out = tmp_path / "big"
    (out / "review").mkdir(parents=True)
    gifs = []
    for gif in sorted((output / "review").glob("*.gif")):
        shutil.copyfile(gif, out / "review" / gif.name)
        gifs.append(f"review/{gif.name}")
    review.write_page(out, many_entries(10_000, previews=tuple(gifs)), "10,000 takes")
    s = Served(out)
    try:
        start = time.monotonic()
        open_page(browser, s.server.url, "server")
        print(f"10,000 takes: page ready with previews in {time.monotonic() - start:.2f} s")
        browser.screenshot(tmp_path / "big.png")
        assert browser.evaluate("document.getElementById('page-info').textContent") == "page 1 of 125"
        assert browser.evaluate("document.querySelectorAll('.group').length") == 20 and browser.evaluate(CARDS) == 80
        assert browser.evaluate("document.getElementById('summary').textContent").startswith("10000 takes of 2500 prompts · 9800 ok · 200 failed")
        browser.click("#next")
        assert browser.evaluate("document.getElementById('page-info').textContent") == "page 2 of 125"
        assert browser.evaluate(HEADINGS)[0] == "A person performs move number 20 with some style."
        browser.choose("#f-sort", "duration")  # durations cycle through 2 to 8 s every 13 prompts
        assert browser.evaluate(HEADINGS)[:3] == [f"A person performs move number {n} with some style." for n in (0, 13, 26)]
        browser.type_into("#f-text", "number 2499 ")
        browser.wait_for(f"{CARDS} === 4")
        assert browser.evaluate("document.getElementById('page-info').textContent") == "page 1 of 1"
        assert json.loads((out / "review" / "takes.json").read_text())["takes"][-1]["name"] == "t9999_s3"
        assert not browser.console, browser.console
    finally:
        s.close()


def test_on_a_plain_static_server_it_shows_the_saved_verdicts(browser, output):
    """Any web server (here Python's own) can host the folder: the page reads
    review/approvals.json next to it, and further verdicts stay in the browser."""
    write_sidecar(approvals.sidecar_path(output), {"p0_s2": {"verdict": "approved"}, "p1_s1": {"verdict": "rejected"}})
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(output))
    static = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=static.serve_forever, daemon=True)
    thread.start()
    try:
        open_page(browser, f"http://127.0.0.1:{static.server_address[1]}/review/index.html", "file")
        browser.choose("#f-status", "approved")
        assert browser.evaluate("Array.from(document.querySelectorAll('.card')).map(c => c.dataset.name)") == ["p0_s2"]
        assert "1 approved · 1 rejected · 7 not reviewed" in browser.evaluate("document.getElementById('summary').textContent")
    finally:
        static.shutdown()
        static.server_close()
        thread.join(timeout=10)
