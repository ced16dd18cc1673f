"""The HTTP server: every route equals the library call it wraps, for images, text and tables;
bad requests get a 4xx JSON error; tokens, body limits and micro-batching; `vaekit serve` itself."""

import asyncio
import base64
import io
import json
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

pytest.importorskip("fastapi")  # the `serve` extra; the test environment installs it

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

import vaekit  # noqa: E402
from serving import LINES, image_model, table_model, text_model  # noqa: E402
from vaekit.data.schema import as_table  # noqa: E402
from vaekit.serve import Batcher, ServedModel, create_app  # noqa: E402


@pytest.fixture(scope="module")
def models():
    return {
        "img": ServedModel("img", image_model()),
        "tab": ServedModel("tab", table_model()[0]),
        "txt": ServedModel("txt", text_model()[0]),
    }


@pytest.fixture(scope="module")
def client(models):
    with TestClient(create_app(models)) as c:
        yield c


def _images(n, seed=0):
    return (np.random.default_rng(seed).random((n, 8, 8, 1)) < 0.3).astype("float32")


def _png(image):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((image[..., 0] * 255).astype("uint8"), "L").save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_health_and_model_descriptions(client):
    assert client.get("/health").json() == {"status": "ok", "models": 3}
    infos = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert infos["img"]["kind"] == "images" and infos["img"]["data_shape"] == [8, 8, 1]
    assert infos["img"]["latent_dim"] == 3 and not infos["img"]["conditioned"]
    assert infos["tab"]["condition"] == {"name": "group", "values": ["a", "b"]}
    assert [c["name"] for c in infos["tab"]["columns"]] == ["size", "colour", "ok", "count"]
    assert infos["txt"]["kind"] == "text"
    assert client.get("/v1/models/txt").json() == infos["txt"]
    assert "/v1/models/{name}/decode" in client.get("/openapi.json").json()["paths"]


def test_image_routes_equal_the_library(client, models):
    model = models["img"].model
    x = _images(5)
    body = client.post("/v1/models/img/encode", json={"inputs": x.tolist()}).json()
    mean, log_var = model.encode(x)
    np.testing.assert_allclose(body["mean"], mean, atol=1e-5)
    np.testing.assert_allclose(body["log_var"], log_var, atol=1e-5)
    # A PNG reads as the same image.
    pngs = client.post("/v1/models/img/encode", json={"inputs": [_png(i) for i in x]}).json()
    np.testing.assert_allclose(pngs["mean"], mean, atol=1e-5)

    z = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    out = client.post("/v1/models/img/decode", json={"z": z.tolist()}).json()["outputs"]
    np.testing.assert_allclose(out, model.decode(z), atol=1e-4)
    rec = client.post("/v1/models/img/reconstruct", json={"inputs": x.tolist()}).json()
    np.testing.assert_allclose(rec["outputs"], model.reconstruct(x), atol=1e-4)

    sample = client.post("/v1/models/img/sample", json={"num": 3, "seed": 7}).json()["outputs"]
    np.testing.assert_allclose(sample, vaekit.prior_samples(model, 3, seed=7), atol=1e-4)
    png = client.post(
        "/v1/models/img/sample", json={"num": 2, "seed": 7, "image_format": "png"}
    ).json()["outputs"]
    assert all(p.startswith("data:image/png;base64,") for p in png)

    scores = client.post("/v1/models/img/score", json={"inputs": x.tolist(), "samples": 8}).json()
    expected = vaekit.score_examples(model, x, 8, seed=0)
    np.testing.assert_allclose(scores["score"], expected["score"], rtol=1e-5)
    assert "columns" not in scores


def test_table_routes_read_and_write_rows_with_the_schema(client, models):
    served = models["tab"]
    rows = [
        {"size": 1.5, "colour": "red", "ok": True, "count": 3, "group": "a"},
        {"size": None, "colour": "blue", "group": "b"},  # missing cells
    ]
    x = served.codec.encode(
        as_table([[1.5, "red", "yes", 3, "a"], ["", "blue", "", "", "b"]], served.codec.names)
    )
    body = client.post("/v1/models/tab/encode", json={"inputs": rows}).json()
    np.testing.assert_allclose(body["mean"], served.model.encode(x)[0], atol=1e-5)

    sample = client.post(
        "/v1/models/tab/sample", json={"num": 4, "seed": 3, "condition": "b"}
    ).json()["outputs"]
    assert [r["group"] for r in sample] == ["b"] * 4
    assert all(
        r["colour"] in ("red", "blue", "green") and isinstance(r["count"], int) for r in sample
    )
    expected = served.codec.decode(
        vaekit.prior_rows(served.model, 4, seed=3, condition=served.codec.encode_condition(["b"])),
        observed=False,
    )
    assert [r["size"] for r in sample] == expected["size"]

    decoded = client.post(
        "/v1/models/tab/decode", json={"z": [[0.0, 0.0], [1.0, -1.0]], "condition": ["a", "b"]}
    ).json()["outputs"]
    assert [r["group"] for r in decoded] == ["a", "b"]

    scores = client.post("/v1/models/tab/score", json={"inputs": rows, "samples": 4}).json()
    assert set(scores["columns"]) == {"size", "colour", "ok", "count", "group"}
    assert len(scores["score"]) == 2 and all(np.isfinite(scores["score"]))


def test_text_routes_speak_sentences(client, models):
    model = models["txt"].model
    body = client.post("/v1/models/txt/encode", json={"inputs": LINES[:2]}).json()
    ids = models["txt"].codec.encode_examples(LINES[:2])
    np.testing.assert_allclose(body["mean"], model.encode(ids)[0], atol=1e-5)
    rec = client.post("/v1/models/txt/reconstruct", json={"inputs": LINES[:2]}).json()
    assert rec["outputs"] == vaekit.reconstruct_sentences(model, ids)
    sample = client.post("/v1/models/txt/sample", json={"num": 3, "seed": 2}).json()["outputs"]
    assert len(sample) == 3 and all(isinstance(s, str) for s in sample)
    assert (
        sample == client.post("/v1/models/txt/sample", json={"num": 3, "seed": 2}).json()["outputs"]
    )
    decoded = client.post("/v1/models/txt/decode", json={"z": [[0.0] * 4]}).json()["outputs"]
    assert isinstance(decoded[0], str)


@pytest.mark.parametrize(
    "path, body, status, message",
    [
        ("img/decode", {"z": [[0.0]]}, 422, "latent vectors of length 3"),
        ("img/decode", {"z": "abc"}, 422, "z"),
        ("img/encode", {"inputs": [[[0.0]]]}, 422, "shape [8, 8, 1]"),
        ("img/encode", {"inputs": [np.full((8, 8), 2.0).tolist()]}, 422, "values in [0, 1]"),
        ("img/encode", {"inputs": ["not-base64!"]}, 422, "base64 PNG"),
        ("img/encode", {"inputs": []}, 422, "at least 1 item"),
        ("txt/encode", {"inputs": [""] * 1025}, 422, "at most 1024 items"),
        ("img/decode", {"z": [[0.0, 0.0, 0.0]] * 1025}, 422, "at most 1024 items"),
        ("img/encode", {"inputs": [[["a"] * 8] * 8]}, 422, "numbers"),
        ("img/sample", {"num": 10**9}, 422, "num"),
        ("img/sample", {"temperature": -1}, 422, "temperature"),
        ("img/sample", {"unknown": 1}, 422, "unknown"),
        ("img/sample", {"condition": "x"}, 422, "not conditional"),
        ("img/score", {"inputs": _images(20).tolist(), "samples": 100_000}, 422, "draws"),
        ("tab/encode", {"inputs": [{"bogus": 1, "group": "a"}]}, 422, "Unknown column 'bogus'"),
        ("tab/encode", {"inputs": [{"size": "big", "group": "a"}]}, 422, "expected a number"),
        ("tab/encode", {"inputs": [{"colour": "purple", "group": "a"}]}, 422, "never saw"),
        ("tab/decode", {"z": [[0.0, 0.0]]}, 422, "Expected a `condition`"),
        ("tab/sample", {"condition": "zzz"}, 422, "condition 'group'"),
        ("txt/encode", {"inputs": [5]}, 422, "string"),
        ("nope/encode", {"inputs": [1]}, 404, "Unknown model 'nope'"),
    ],
)
def test_bad_requests_get_one_line_4xx_json_errors(client, path, body, status, message):
    response = client.post(f"/v1/models/{path}", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error and "\n" not in error and "Traceback" not in error


def test_malformed_bodies_nan_and_wrong_methods(client):
    def post(content):
        return client.post(
            "/v1/models/img/decode", content=content, headers={"content-type": "application/json"}
        )

    assert post(b"{not json").status_code == 400
    assert "JSON" in post(b"{not json").json()["error"]
    assert post(b"").status_code == 400
    nan = post(b'{"z": [[NaN, 0, 0]]}')
    assert nan.status_code == 422 and "finite" in nan.json()["error"]
    assert client.get("/v1/models/img/decode").json() == {"error": "Method Not Allowed"}


def test_a_body_over_the_limit_gets_413_before_the_model_runs(models):
    app = create_app(models, max_body_bytes=1000)
    with TestClient(app) as c:
        big = {"z": [[0.0, 0.0, 0.0]] * 200}
        response = c.post("/v1/models/img/decode", json=big)
        assert response.status_code == 413 and "at most 1000 bytes" in response.json()["error"]

        def chunks():  # no Content-Length: counted as it streams
            yield b'{"z": ['
            for _ in range(200):
                yield b"[0, 0, 0],"
            yield b"[0, 0, 0]]}"

        streamed = c.post(
            "/v1/models/img/decode", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        assert c.post("/v1/models/img/decode", json={"z": [[0, 0, 0]]}).status_code == 200


def test_an_empty_token_is_refused_not_taken_for_none(models):
    with pytest.raises(ValueError, match="non-empty token"):
        create_app(models, token="")


def test_a_token_guards_every_model_route(models):
    with TestClient(create_app(models, token="s3cret")) as c:
        assert c.get("/health").status_code == 200
        assert c.get("/v1/models").status_code == 401
        wrong = c.get("/v1/models", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "token" in wrong.json()["error"]
        ok = c.get("/v1/models", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and len(ok.json()["models"]) == 3


def test_concurrent_requests_are_merged_into_fewer_model_calls():
    model = image_model()
    z = np.random.default_rng(4).normal(size=(32, 3)).astype("float32")
    expected = model.decode(z)

    async def run(batching):
        served = ServedModel("m", model, Batcher(enabled=batching))
        app = create_app({"m": served})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            responses = await asyncio.gather(
                *(c.post("/v1/models/m/decode", json={"z": [row.tolist()]}) for row in z)
            )
        served.close()
        outputs = np.concatenate([r.json()["outputs"] for r in responses])
        return outputs, served.batcher.calls, served.batcher.requests

    merged, calls, requests = asyncio.run(run(True))
    alone, calls_alone, _ = asyncio.run(run(False))
    assert requests == 32 and calls < 32 and calls_alone == 32
    np.testing.assert_allclose(merged, expected, atol=1e-4)  # each client gets its own rows
    np.testing.assert_allclose(alone, expected, atol=1e-4)


def test_batcher_gives_each_waiting_request_the_error():
    def broken(x):
        raise ValueError("boom")

    async def run():
        batcher = Batcher()
        results = await asyncio.gather(
            *(batcher.run(("k",), broken, np.zeros((1, 2))) for _ in range(3)),
            return_exceptions=True,
        )
        batcher.close()
        return results

    assert [str(r) for r in asyncio.run(run())] == ["boom"] * 3


# --- the command ----------------------------------------------------------------------------------


def test_serve_refuses_other_hosts_without_a_token_and_non_runs(
    tiny_run, tmp_path, capsys, monkeypatch
):
    from vaekit.cli import main

    monkeypatch.delenv("VAEKIT_SERVE_TOKEN", raising=False)
    assert main(["serve", str(tiny_run), "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "expected a token" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    assert main(["serve", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert main(["serve", f"a={tiny_run}", f"a={tiny_run}"]) == 2
    assert "Two models are named 'a'" in capsys.readouterr().err


def test_serve_command_answers_on_loopback(tiny_run):
    process = subprocess.Popen(
        [sys.executable, "-m", "vaekit", "serve", f"demo={tiny_run}", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert "Serving 1 model (demo) at http://127.0.0.1:" in line, process.stderr.read()
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(f"{url}/health", timeout=30) as response:
            assert json.load(response) == {"status": "ok", "models": 1}
        request = urllib.request.Request(
            f"{url}/v1/models/demo/sample",
            data=json.dumps({"num": 2, "image_format": "png"}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert len(json.load(response)["outputs"]) == 2
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_warm_up_runs_every_kind_at_each_merged_shape(models):
    for served in models.values():
        served.warm_up(4)  # shapes 1, 2, 4: an input of each kind the model accepts
    outputs = models["tab"].decode_batch(
        np.zeros((2, 2), "float32"), models["tab"].codec.encode_condition(["a", "b"])
    )
    assert outputs.shape == (2, models["tab"].model.data_shape[0])
