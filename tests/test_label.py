"""The labelling page: naming, the queue, resuming, the guard, and a real browser session."""

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
from conftest import ROOT

from crnn_keras.data.files import label_from_name
from crnn_keras.label.naming import LABEL_REGEX, LabelRefused, check_label, free_name
from crnn_keras.label.session import MANIFEST, LabelSession
from crnn_keras.serve.guard import Guard


@pytest.mark.parametrize("label", ["a_12", "x9g3a", "가나", "Café", "a b", "a.b"])
def test_labelled_names_read_back_to_their_labels(tmp_path, label):
    name = free_name(str(tmp_path), check_label(label), ".PNG", set())
    assert name.endswith("_1.png")
    import regex
    assert label_from_name(name, regex.compile(LABEL_REGEX)) == check_label(label)


def test_names_count_up_past_files_and_names_taken(tmp_path):
    (tmp_path / "ab_1.png").write_bytes(b"x")
    assert free_name(str(tmp_path), "ab", ".png", {"ab_2.png"}) == "ab_3.png"


@pytest.mark.parametrize("label, reason", [
    ("", "empty"), ("a/b", "separate folders"), ("a\\b", "separate folders"), ("a\x00b", "control"),
    ("a\tb", "control"), (".hidden", "start with ."), (" a", "space"), ("x" * 250, "too long"),
    ("\udcff", "control"),
])
def test_labels_that_cannot_be_file_names_are_refused(label, reason):
    with pytest.raises(LabelRefused, match=reason):
        check_label(label)


def test_labels_are_stored_in_nfc():
    assert check_label("Cafe\u0301") == "Caf\u00e9"


@pytest.fixture()
def unlabelled(tiny_folder, tmp_path):
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    names = sorted(os.listdir(tiny_folder))[:6]
    for i, name in enumerate(names):
        shutil.copy(os.path.join(tiny_folder, name), folder / f"u{i}.png")
    return str(folder), [os.path.splitext(n)[0] for n in names]


def test_a_session_copies_writes_labels_tsv_and_resumes(unlabelled, tmp_path):
    images, truths = unlabelled
    out = str(tmp_path / "labelled")
    session = LabelSession(images, out)
    assert [i.name for i in session.pending()] == [f"u{i}.png" for i in range(6)]  # no model: by name
    session.submit("u0.png", "label", truths[0])
    session.submit("u1.png", "skip")
    session.submit("u2.png", "label", truths[0])  # the same label twice: _1 and _2
    assert sorted(os.listdir(images)) == [f"u{i}.png" for i in range(6)]  # originals stay
    assert sorted(n for n in os.listdir(out) if not n.startswith(".")) == sorted(
        [f"{truths[0]}_1.png", f"{truths[0]}_2.png", MANIFEST])
    again = LabelSession(images, out)
    assert [i.name for i in again.pending()] == ["u3.png", "u4.png", "u5.png"]
    assert again.stats()["labelled"] == 2 and again.stats()["skipped"] == 1
    from crnn_keras.data.manifest import read_manifest
    samples, problems = read_manifest(os.path.join(out, MANIFEST))
    assert [s.label for s in samples] == [truths[0]] * 2 and not problems
    with pytest.raises(KeyError):
        again.submit("../outside.png", "label", "x")
    with pytest.raises(LabelRefused):
        again.submit("u3.png", "label", "a/b")


def test_a_model_orders_the_queue_least_confident_first(unlabelled, tmp_path, trained_run):
    images, truths = unlabelled
    session = LabelSession(images, str(tmp_path / "out"), trained_run["model"])
    pending = session.pending()
    assert [i.confidence for i in pending] == sorted(i.confidence for i in pending)
    assert {i.prelabel for i in pending} == set(truths)  # the tiny model reads its own images
    item = pending[0]
    session.submit(item.name, "label", item.prelabel)
    assert session.stats()["prelabels_accepted"] == 1


def test_the_guard_wants_this_host_no_foreign_origin_and_the_token():
    guard = Guard("127.0.0.1", 8123, token="secret")
    ok = {"host": "127.0.0.1:8123", "x-token": "secret"}
    assert guard.refusal("POST", ok, {}) is None
    assert guard.refusal("GET", {"host": "localhost:8123"}, {"token": "secret"}) is None
    assert guard.refusal("GET", {"host": "evil.example:8123", "x-token": "secret"}, {})[0] == 400
    assert guard.refusal("POST", {**ok, "origin": "http://evil.example"}, {})[0] == 403
    assert guard.refusal("POST", {**ok, "origin": "http://127.0.0.1:8123"}, {}) is None
    assert guard.refusal("GET", {"host": "127.0.0.1:8123"}, {})[0] == 403
    assert guard.refusal("GET", {"host": "127.0.0.1:8123", "x-token": "wrong"}, {})[0] == 403


def start_label_server(images, out, model=None):
    command = [sys.executable, "-m", "crnn_keras", "label", "--images", images, "--out", out]
    process = subprocess.Popen(command + (["--model", model] if model else []), cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=ROOT))
    line = process.stdout.readline()
    url = re.search(r"http://\S+", line)
    assert url, process.stderr.read()[-2000:] if process.poll() is not None else line
    url = url.group(0)
    import httpx
    for _ in range(100):
        try:
            httpx.get(url, timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the label server did not answer")


def test_the_api_refuses_what_the_page_would_not_send(unlabelled, tmp_path):
    import httpx

    images, _ = unlabelled
    process, url = start_label_server(images, str(tmp_path / "out"))
    try:
        base, token = url.split("/?token=")
        assert httpx.get(f"{base}/api/pending").status_code == 403  # no token
        headers = {"X-Token": token}
        assert httpx.get(f"{base}/api/image", params={"name": "../../etc/passwd"}, headers=headers).status_code == 404
        bad = httpx.post(f"{base}/api/decide", content=b"{", headers=headers)
        assert bad.status_code == 400
        refused = httpx.post(f"{base}/api/decide", json={"name": "u0.png", "action": "label", "label": "../x"},
                             headers=headers)
        assert refused.status_code == 422 and "separate folders" in refused.json()["error"]
        foreign = httpx.post(f"{base}/api/decide", json={"name": "u0.png", "action": "skip"},
                             headers={**headers, "Origin": "http://evil.example"})
        assert foreign.status_code == 403
    finally:
        process.terminate()
        process.wait(timeout=30)


def browser():
    """Debian's chromium through Selenium; under CI=true a missing browser fails the test."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("selenium is not installed")
    if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
        if os.environ.get("CI") == "true":
            raise AssertionError("CI must install Debian's chromium and chromium-driver")
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def test_labelling_in_a_real_browser(unlabelled, tmp_path, trained_run):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    images, truths = unlabelled
    out = tmp_path / "labelled"
    driver = browser()
    process, url = start_label_server(images, str(out), trained_run["model"])
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 30)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".item input")) == 6)
        cards = driver.find_elements(By.CSS_SELECTOR, ".item")
        first, second = (c.get_attribute("data-name") for c in cards[:2])
        prelabel = cards[0].find_element(By.TAG_NAME, "input").get_attribute("value")
        cards[0].find_element(By.TAG_NAME, "input").send_keys(Keys.ENTER)  # confirm the pre-label
        wait.until(lambda d: cards[0].get_attribute("data-decided") == "label")
        typed = cards[1].find_element(By.TAG_NAME, "input")
        typed.clear()
        typed.send_keys("zz99", Keys.ENTER)  # correct the second one
        wait.until(lambda d: cards[1].get_attribute("data-decided") == "label")
        wait.until(lambda d: d.find_element(By.ID, "accepted").text == "1")
        driver.save_screenshot(str(tmp_path / "labelling.png"))
        driver.refresh()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".item input")) == 4)
        shown = {c.get_attribute("data-name") for c in driver.find_elements(By.CSS_SELECTOR, ".item")}
        assert first not in shown and second not in shown  # resumed after the two decisions
        assert driver.find_element(By.ID, "remaining").text == "4"
    finally:
        driver.quit()
        process.terminate()
        process.wait(timeout=30)
    files = sorted(n for n in os.listdir(out) if not n.startswith("."))
    assert files == sorted([f"{prelabel}_1.png", "zz99_1.png", MANIFEST])
    rows = (out / MANIFEST).read_text().splitlines()
    assert rows == ["path\tlabel", f"{prelabel}_1.png\t{prelabel}", "zz99_1.png\tzz99"]
    state = json.load(open(out / ".labelling.json"))
    assert state["done"][first]["prelabel"] == prelabel and state["done"][second]["label"] == "zz99"
    assert os.path.exists(tmp_path / "labelling.png")


def test_retraining_fine_tunes_in_the_background_and_switches_the_pre_labeller(unlabelled, tmp_path, trained_run):
    from crnn_keras.label.retrain import Retrainer

    images, truths = unlabelled
    session = LabelSession(images, str(tmp_path / "out"), trained_run["model"])
    retrainer = Retrainer(session, every=2, epochs=2)
    first = session.pending()
    session.submit(first[0].name, "label", first[0].prelabel)
    assert not retrainer.maybe_start()  # 1 new label of 2
    session.submit(first[1].name, "label", first[1].prelabel)
    assert retrainer.maybe_start() and not retrainer.maybe_start()  # one run at a time
    retrainer.thread.join(timeout=300)
    assert retrainer.status()["last_error"] is None and retrainer.status()["runs"] == 1
    assert session.model.endswith(os.path.join(".runs", "run-1", "model.keras"))
    assert len(session.pending()) == 4 and all(i.confidence is not None for i in session.pending())
    with pytest.raises(ValueError, match="must then be a .keras"):
        Retrainer(LabelSession(images, str(tmp_path / "plain")), every=2)
