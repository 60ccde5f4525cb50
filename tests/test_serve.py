"""The HTTP service, started as a real server on 127.0.0.1 and called with a real HTTP client."""

import concurrent.futures
import io
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from conftest import ROOT, text_image
from test_images import bomb_png


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(trained_run):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "crnn_keras", "serve", "--model", trained_run["model"],
                                "--port", str(port), "--max-upload-mb", "1"], cwd=ROOT,
                               env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            assert process.poll() is None, process.communicate()
            time.sleep(0.3)
    yield url
    process.terminate()
    _, stderr = process.communicate(timeout=30)
    assert b"Traceback" not in stderr, stderr.decode()[-3000:]


@pytest.fixture(scope="module")
def images(trained_run):
    names = sorted(os.listdir(trained_run["data"]))[:6]
    return {name: open(os.path.join(trained_run["data"], name), "rb").read() for name in names}


def test_every_upload_form_reads_in_order(server, images):
    names = list(images)
    one = httpx.post(f"{server}/read", files={"file": (names[0], images[names[0]], "image/png")})
    assert one.status_code == 200 and one.json() == [{"filename": names[0], "text": names[0][:-4],
                                                      "confidence": pytest.approx(one.json()[0]["confidence"])}]
    many = httpx.post(f"{server}/read", files=[("files", (n, images[n], "image/png")) for n in names])
    assert [r["text"] for r in many.json()] == [n[:-4] for n in names]
    raw = httpx.post(f"{server}/read?filename=x.png", content=images[names[1]], headers={"Content-Type": "image/png"})
    assert raw.json() == [{"filename": "x.png", "text": names[1][:-4], "confidence": raw.json()[0]["confidence"]}]
    beam = httpx.post(f"{server}/read?beam_width=3", files={"file": (names[2], images[names[2]])})
    assert beam.json()[0]["text"] == names[2][:-4]
    model = httpx.get(f"{server}/model").json()
    assert (model["height"], model["width"], model["format"]) == (16, 64, "keras")
    assert httpx.get(f"{server}/openapi.json").status_code == 200


def bad_uploads(images):
    png = next(iter(images.values()))
    buffer = io.BytesIO()
    text_image("ab").save(buffer, format="WEBP")
    return {
        "text.png": b"not an image",
        "truncated.png": png[: len(png) // 2],
        "bomb.png": bomb_png(60000, 60000),
        "eps.png": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
        "webp.png": buffer.getvalue(),
        "empty.png": b"",
    }


def test_bad_images_are_error_entries_or_a_4xx_never_a_500(server, images):
    good_name, good = next(iter(images.items()))
    bad = bad_uploads(images)
    mixed = httpx.post(f"{server}/read", files=[("files", (good_name, good))] + [("files", (n, b)) for n, b in bad.items()])
    assert mixed.status_code == 200
    results = mixed.json()
    assert results[0]["text"] == good_name[:-4] and all("error" in r for r in results[1:])
    assert [r["filename"] for r in results[1:]] == list(bad)
    for name, data in bad.items():
        alone = httpx.post(f"{server}/read", files={"file": (name, data)})
        assert alone.status_code == 422 and alone.json()["error"] == "no image could be read", name


@pytest.mark.parametrize("request_kwargs, status", [
    (dict(content=b"", headers={"Content-Type": "image/png"}), 400),
    (dict(content=b"hello", headers={"Content-Type": "text/plain"}), 415),
    (dict(data={"other": "x"}, files={"nothing": ("a.png", b"x")}), 400),
    (dict(content=b"\0" * (2 * 2**20), headers={"Content-Type": "image/png"}), 413),
    (dict(files=[("files", (f"{i}.png", b"x")) for i in range(65)]), 400),
])
def test_malformed_requests_get_a_one_line_4xx(server, request_kwargs, status):
    response = httpx.post(f"{server}/read", **request_kwargs)
    assert response.status_code == status and "\n" not in response.json()["error"]
    assert httpx.get(f"{server}/health").status_code == 200


def test_concurrent_requests_read_what_sequential_ones_do(server, images):
    names = list(images)

    def post(i):
        name = names[i % len(names)]
        return name, httpx.post(f"{server}/read", files={"file": (name, images[name])}, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(post, range(48)))
    assert all(r.status_code == 200 and r.json()[0]["text"] == name[:-4] for name, r in answers)


def test_the_demo_page_and_the_explain_picture(server, images):
    page = httpx.get(f"{server}/")
    assert page.status_code == 200 and "Read an image" in page.text
    name = next(iter(images))
    picture = httpx.post(f"{server}/explain", files={"file": (name, images[name], "image/png")}, timeout=60)
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    for files in ({"file": ("x.png", b"not an image")}, [("files", (name, images[name]))] * 2):
        assert 400 <= httpx.post(f"{server}/explain", files=files).status_code < 500


def test_requests_from_other_web_pages_are_refused(server, images):
    name = next(iter(images))
    rebound = httpx.get(f"{server}/model", headers={"Host": "attacker.example:80"})
    assert rebound.status_code == 400 and "Host" in rebound.json()["error"]
    foreign = httpx.post(f"{server}/read", files={"file": (name, images[name])}, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    same = httpx.post(f"{server}/read", files={"file": (name, images[name])}, headers={"Origin": server})
    assert same.status_code == 200
