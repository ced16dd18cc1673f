"""The latent explorer: its API routes (map, interpolate, examples) through TestClient, and its
page at `/` driven in a real headless browser (Chromium under Playwright) for an image run, a
table model and a text model, with and without a token. One server and one browser per module."""

import base64
import contextlib
import io
import threading
import time

import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import expect, sync_playwright

import vaekit
from serving import LINES, table_model, text_model  # noqa: E402
from vaekit import config as config_lib
from vaekit.data import FACTOR_NAMES, SHAPE_NAMES
from vaekit.serve import ServedModel, create_app, load_served
from vaekit.serve.explorer import projection
from vaekit.serve.server import bind

CHROMIUM = "/usr/bin/chromium"  # Debian's; CI installs it (.ci/run)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def models(tiny_run):
    served = load_served([f"shapes={tiny_run}"])
    table, rows = table_model()
    served["tab"] = ServedModel("tab", table, examples=(rows, None, None))
    text, ids = text_model()
    topics = np.array([0, 0, 1, 1])  # class labels with names
    served["txt"] = ServedModel("txt", text, examples=(ids, topics, ["cats", "birds"]))
    yield served
    for m in served.values():
        m.close()


@pytest.fixture(scope="module")
def client(models):
    with TestClient(create_app(models)) as c:
        yield c


@contextlib.contextmanager
def _serving(app):
    """`app` under uvicorn on a free loopback port, in a background thread; yields its URL."""
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture(scope="module")
def server(models):
    with _serving(create_app(models)) as url:
        yield url


@pytest.fixture(scope="module")
def token_server(models):
    with _serving(create_app({"tab": models["tab"]}, token=TOKEN)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(60_000)  # the first model calls of a backend compile
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


def _open(page, url, count):
    page.goto(url)
    expect(page.locator("#map")).to_have_attribute("data-points", str(count))


def _click_map(page, fx, fy, shift=False):
    box = page.locator("#map").bounding_box()
    page.locator("#map").click(
        position={"x": box["width"] * fx, "y": box["height"] * fy},
        modifiers=["Shift"] if shift else None,
    )


def _pixels(src):
    from PIL import Image

    assert src.startswith("data:image/png;base64,")
    png = base64.b64decode(src.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)), dtype=np.float32)


def _decoded_changes(page, before):
    """The decoded picture's data URL once it differs from `before`."""
    page.wait_for_function(
        "prev => { const img = document.querySelector('#decoded img');"
        " return img && img.src.startsWith('data:image/png') && img.src !== prev; }",
        arg=before,
    )
    return page.locator("#decoded img").get_attribute("src")


# --- the API --------------------------------------------------------------------------------------


def test_the_map_of_a_run_projects_its_validation_means(client, models, tiny_run):
    body = client.get("/v1/models/shapes/map").json()
    cfg = vaekit.load_run_config(tiny_run)
    x, y = vaekit.load_configured(cfg.data, cfg.train.seed).split("val")
    x, y = x[:2000], y[:2000]
    mean, log_var = models["shapes"].model.encode(x)
    assert body["count"] == len(x) == len(body["points"]) and body["latent_dim"] == 10
    assert "validation examples of shapes" in body["source"]
    p = body["projection"]
    centre, axes, points = np.array(p["centre"]), np.array(p["axes"]), np.array(body["points"])
    assert p["method"] == "pca" and 0 < p["explained"] <= 1
    np.testing.assert_allclose(axes @ axes.T, np.eye(2), atol=1e-5)  # orthonormal
    np.testing.assert_allclose(centre, mean.mean(axis=0), atol=1e-4)
    on_plane = centre + ((mean - centre) @ axes.T) @ axes
    np.testing.assert_allclose(centre + points @ axes, on_plane, atol=1e-3)
    # The sliders: the dimensions of highest average KL, most informative first.
    kl = (0.5 * (np.exp(log_var) + mean**2 - 1 - log_var)).mean(axis=0)
    assert [d["dim"] for d in body["dims"]] == list(np.argsort(-kl, kind="stable")[:5])
    assert all(d["min"] <= -3 and d["max"] >= 3 for d in body["dims"])
    labels = {c["name"]: c for c in body["labels"]}
    assert list(labels) == list(FACTOR_NAMES)
    assert labels["shape"]["kind"] == "class" and labels["shape"]["classes"] == list(SHAPE_NAMES)
    assert labels["scale"]["kind"] == "value"
    np.testing.assert_allclose(labels["pos_x"]["values"], y[:, 3], atol=1e-4)


def test_a_2d_latent_is_drawn_as_it_is_and_conditions_become_labels(client, models):
    body = client.get("/v1/models/tab/map").json()
    mean, _ = models["tab"].model.encode(models["tab"].examples[0])
    assert body["projection"]["method"] == "none"
    assert body["projection"]["axes"] == [[1.0, 0.0], [0.0, 1.0]]
    np.testing.assert_allclose(body["points"], mean, atol=1e-4)
    assert body["labels"] == [
        {"name": "group", "kind": "class", "values": [0, 1, 0, 1, 0], "classes": ["a", "b"]}
    ]
    text = client.get("/v1/models/txt/map").json()
    assert text["texts"] == LINES and text["labels"][0]["classes"] == ["cats", "birds"]
    centre, axes = np.array(text["projection"]["centre"]), np.array(text["projection"]["axes"])
    text_mean, _ = models["txt"].model.encode(models["txt"].examples[0])
    np.testing.assert_allclose(np.array(text["points"]), (text_mean - centre) @ axes.T, atol=1e-4)


def test_projection_of_one_example_still_spans_a_plane():
    centre, axes, explained = projection(np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(centre, [1, 2, 3])
    np.testing.assert_allclose(axes @ axes.T, np.eye(2), atol=1e-9)
    assert explained == 1.0


def test_interpolate_decodes_the_line_between_two_examples(client, models):
    body = client.post("/v1/models/shapes/interpolate", json={"a": 0, "b": 3, "steps": 5}).json()
    served = models["shapes"]
    x = np.stack(
        [_pixels(client.get(f"/v1/models/shapes/examples/{i}").json()["example"]) for i in (0, 3)]
    )
    mean, _ = served.model.encode(x[..., None] / 255.0)
    z = np.array(body["z"])
    np.testing.assert_allclose(z[[0, -1]], mean, atol=2e-3)  # PNGs round pixels to 1/255
    np.testing.assert_allclose(z[2], mean.mean(axis=0), atol=2e-3)
    np.testing.assert_allclose(body["outputs"], served.model.decode(z.astype("float32")), atol=1e-3)
    rows = client.post("/v1/models/tab/interpolate", json={"a": 0, "b": 1, "steps": 4}).json()
    assert [r["group"] for r in rows["outputs"]] == ["a", "a", "b", "b"]  # each end's own half
    picked = client.post(
        "/v1/models/tab/interpolate", json={"a": 0, "b": 1, "steps": 3, "condition": "b"}
    ).json()
    assert [r["group"] for r in picked["outputs"]] == ["b"] * 3
    example = client.get("/v1/models/tab/examples/2").json()
    assert example["example"]["size"] is None and example["labels"] == {"group": "a"}
    sentences = client.post("/v1/models/txt/interpolate", json={"a": 0, "b": 2}).json()
    assert len(sentences["outputs"]) == 8 and all(isinstance(s, str) for s in sentences["outputs"])


@pytest.mark.parametrize(
    "method, path, body, status, message",
    [
        ("post", "shapes/interpolate", {"a": 0, "b": 10**6}, 422, "Expected `b` to index"),
        ("post", "shapes/interpolate", {"a": -1, "b": 0}, 422, "a"),
        ("post", "shapes/interpolate", {"a": 0, "b": 1, "steps": 1}, 422, "steps"),
        ("post", "shapes/interpolate", {"a": 0, "b": 1, "steps": 1000}, 422, "steps"),
        ("post", "shapes/interpolate", {"a": 0, "b": 1, "path": "/etc"}, 422, "path"),
        ("post", "shapes/interpolate", {"a": 0, "b": 1, "condition": "a"}, 422, "not conditional"),
        ("post", "tab/interpolate", {"a": 0, "b": 1, "condition": "zzz"}, 422, "group"),
        ("post", "nope/interpolate", {"a": 0, "b": 1}, 404, "Unknown model 'nope'"),
        ("get", "nope/map", None, 404, "Unknown model 'nope'"),
        ("get", "tab/examples/5", None, 422, "Expected `index` to index the map's 5 examples"),
        ("get", "tab/examples/x", None, 422, "index"),
    ],
)
def test_bad_explorer_requests_get_4xx_json_errors(client, method, path, body, status, message):
    response = getattr(client, method)(f"/v1/models/{path}", **({"json": body} if body else {}))
    assert response.status_code == status
    assert message in response.json()["error"] and "\n" not in response.json()["error"]


def test_a_model_without_examples_has_no_map(models):
    bare = ServedModel("bare", models["tab"].model)
    with TestClient(create_app({"bare": bare})) as c:
        response = c.get("/v1/models/bare/map")
    bare.close()
    assert response.status_code == 422 and "no examples to map" in response.json()["error"]


def test_a_run_whose_data_is_gone_says_so_without_its_paths(models, tiny_run, tmp_path, caplog):
    cfg = vaekit.load_run_config(tiny_run)
    cfg.data.dataset = str(tmp_path / "moved" / "images.npy")
    (tmp_path / "config.toml").write_text(config_lib.to_toml(cfg), encoding="utf-8")
    gone = ServedModel("gone", models["shapes"].model, run=str(tmp_path))
    with TestClient(create_app({"gone": gone})) as c:
        response = c.get("/v1/models/gone/map")
    gone.close()
    assert response.status_code == 422 and "the server's log says why" in response.json()["error"]
    assert str(tmp_path) not in response.text and "moved" in caplog.text


def test_the_page_and_its_files_need_no_token_the_data_does(models):
    with TestClient(create_app({"tab": models["tab"]}, token=TOKEN)) as c:
        page = c.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert "static/explorer.js" in page.text and "http" not in page.text.split("<footer")[0]
        script = c.get("/static/explorer.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert c.get("/static/map.js").status_code == 200
        assert c.get("/static/explorer.html").status_code == 404
        assert c.get("/static/..%2Fexplorer.py").status_code == 404
        assert c.get("/v1/models/tab/map").status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert c.get("/v1/models/tab/map", headers=auth).json()["count"] == 5


# --- the page, in a browser -----------------------------------------------------------------------


def test_the_page_maps_decodes_slides_interpolates_and_samples_an_image_run(page, server, client):
    count = client.get("/v1/models/shapes/map").json()["count"]
    _open(page, f"{server}/#model=shapes", count)
    drawn = page.evaluate(
        """() => { const c = document.getElementById('map');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let coloured = 0;
        for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[i + 2]) > 40) coloured++;
        return coloured; }"""
    )
    assert drawn > count  # coloured points, not just the grey axes
    expect(page.locator("#map-caption")).to_contain_text("two principal axes")
    expect(page.locator("#colour")).to_have_value("shape")
    expect(page.locator("#legend")).to_contain_text("ellipse")

    _click_map(page, 0.3, 0.35)
    first = _decoded_changes(page, "")
    _click_map(page, 0.75, 0.7)
    second = _decoded_changes(page, first)
    assert np.abs(_pixels(first) - _pixels(second)).max() > 0

    slider = page.locator("#sliders input").first
    expect(page.locator("#sliders input")).to_have_count(5)
    slider.fill(slider.get_attribute("max"))  # to the end of its range: a different picture
    moved = _decoded_changes(page, second)
    assert np.abs(_pixels(moved) - _pixels(second)).max() > 0

    page.fill("#steps", "6")
    _click_map(page, 0.1, 0.1, shift=True)
    expect(page.locator("#end-a img")).to_have_count(1)
    _click_map(page, 0.9, 0.9, shift=True)
    expect(page.locator("#strip img")).to_have_count(6)
    expect(page.locator("#end-b img")).to_have_count(1)
    assert page.locator("#strip figcaption").all_inner_texts()[:2] == ["A", "0.20"]

    page.click("#sample")
    expect(page.locator("#samples img")).to_have_count(8)
    assert page.locator("#samples img").first.get_attribute("src").startswith("data:image/png")
    assert page.locator("#error").is_hidden()


def test_the_page_shows_table_rows(page, server):
    _open(page, f"{server}/#model=tab", 5)
    expect(page.locator("#condition-picker")).to_be_visible()
    page.select_option("#condition", "b")
    _click_map(page, 0.5, 0.5)
    expect(page.locator("#decoded tr.row")).to_have_count(5)  # one line per column
    expect(page.locator("#decoded")).to_contain_text("colour")
    expect(page.locator("#decoded tr.row").last).to_contain_text("b")
    page.click("#pick-a")
    _click_map(page, 0.02, 0.02)
    page.click("#pick-b")
    _click_map(page, 0.98, 0.98)
    expect(page.locator("#strip tr.row")).to_have_count(8)
    page.click("#sample")
    expect(page.locator("#samples tr.row")).to_have_count(8)
    assert set(page.locator("#samples tr.row td:last-child").all_inner_texts()) == {"b"}


def test_the_page_shows_sentences(page, server):
    _open(page, f"{server}/#model=txt", 4)
    expect(page.locator("#model-picker")).to_be_visible()
    expect(page.locator("#legend")).to_contain_text("birds")
    _click_map(page, 0.5, 0.5)
    expect(page.locator("#decoded .sentence")).to_have_count(1)
    _click_map(page, 0.02, 0.5, shift=True)
    _click_map(page, 0.98, 0.5, shift=True)
    expect(page.locator("#strip li.sentence")).to_have_count(8)
    expect(page.locator("#end-a .sentence")).to_contain_text("“")
    page.click("#sample")
    expect(page.locator("#samples li.sentence")).to_have_count(8)


def test_the_page_sends_the_token_from_its_fragment_and_says_when_it_is_missing(page, token_server):
    _open(page, f"{token_server}/#token={TOKEN}", 5)
    assert page.locator("#error").is_hidden()
    page.goto(f"{token_server}/#token=wrong")
    expect(page.locator("#error")).to_contain_text("refused the token")
    page.goto(f"{token_server}/")
    page.reload()  # the same page without a fragment
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error")).to_contain_text("/#token=")
    expect(page.locator("#map-status")).to_contain_text("No map")
