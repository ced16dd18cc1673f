/* vaekit latent explorer: a model's latent map, decoded points, sliders, interpolations and prior
   samples, all read from this server's API (GET v1/models/NAME/map and the model routes).
   A token, when the server asks for one, comes from the URL fragment: /#token=TOKEN (and a
   model to open first from /#model=NAME). */

import { caption, drawMap, labelText, latentOf, nearest } from "./map.js";
import { cell, el, inline, option, render } from "./outputs.js";

const SAMPLES = 8;
const $ = (id) => document.getElementById(id);
const state = {
  token: null, models: [], info: null, map: null, view: null,
  z: null, a: null, b: null, pick: null, seed: 0, timer: null, seq: {},
};

class ApiError extends Error {}

// --- the API ------------------------------------------------------------------------------------

function base() {
  return `v1/models/${encodeURIComponent(state.info.name)}`;
}

async function api(path, body) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const init = { headers, cache: "no-store" };
  if (body !== undefined) {
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(`The server did not answer (${error.message}).`);
  }
  const data = await response.json().catch(() => null);
  if (response.status === 401) {
    throw new ApiError(state.token
      ? "The server refused the token in this page's address (#token=...): check it."
      : "This server asks for a token: open this page as /#token=YOUR_TOKEN.");
  }
  if (!response.ok) {
    throw new ApiError((data && data.error) || `${response.status} ${response.statusText}`);
  }
  $("error").hidden = true;
  return data;
}

/* Runs `fn` as the latest request of its `kind`: an answer overtaken by a newer one gives null. */
async function latest(kind, fn) {
  const seq = (state.seq[kind] = (state.seq[kind] || 0) + 1);
  const info = state.info;
  const result = await fn();
  return seq === state.seq[kind] && info === state.info ? result : null;
}

function showError(error) {
  $("error").textContent = error.message || String(error);
  $("error").hidden = false;
}

const guarded = (fn) => (...args) => fn(...args).catch(showError);

function redraw() {
  if (!state.map) return;
  const marks = { colour: $("colour").value, a: state.a, b: state.b, z: state.z };
  state.view = drawMap($("map"), $("legend"), state.map, marks);
}

/* Marks `box` as waiting (dimmed; a placeholder says `text`), runs `request` as the latest of
   its kind, and gives its answer (null when a newer request overtook it). */
async function fill(box, kind, text, request) {
  box.classList.add("busy");
  if (!box.querySelector("img, table, .sentence")) box.replaceChildren(el("p", text, "muted"));
  let answer;
  try {
    answer = await latest(kind, request);
  } catch (error) {
    box.classList.remove("busy");
    throw error;
  }
  if (answer) box.classList.remove("busy");
  return answer;
}

function status(text) {
  $("map-status").textContent = text;
  $("map-status").hidden = !text;
}

// --- models and their maps ----------------------------------------------------------------------

async function start() {
  const fragment = new URLSearchParams(location.hash.slice(1));  // #token=...&model=...
  state.token = fragment.get("token");
  state.info = null;
  $("error").hidden = true;
  status("Loading the map…");
  try {
    state.models = (await api("v1/models")).models;
  } catch (error) {
    status("No map: see the message above.");
    throw error;
  }
  if (!state.models.length) throw new ApiError("This server holds no models.");
  $("model").replaceChildren(...state.models.map((m) => option(m.name, m.name)));
  $("model-picker").hidden = state.models.length < 2;
  const first = state.models.find((m) => m.name === fragment.get("model")) || state.models[0];
  $("model").value = first.name;
  await openModel(first.name);
}

async function openModel(name) {
  const info = state.models.find((m) => m.name === name);
  Object.assign(state, { info, map: null, z: null, a: null, b: null, pick: null });
  $("model-summary").textContent =
    `${info.kind}, ${info.latent_dim}-d latent, ${info.likelihood} likelihood, ${info.prior} prior`;
  $("condition-picker").hidden = !info.conditioned;
  if (info.conditioned) {
    $("condition-name").textContent = info.condition.name;
    $("condition").replaceChildren(...info.condition.values.map((v) => option(v, v)));
  }
  $("decoded").replaceChildren(el("p", "Click the map to decode a point.", "muted"));
  $("strip").replaceChildren(el("p", "Pick two examples to decode the line between them.", "muted"));
  $("samples").replaceChildren();
  $("sliders").replaceChildren();
  $("legend").replaceChildren();
  $("map-caption").textContent = "";
  showEnd("a", null);
  showEnd("b", null);
  status("Loading the map…");
  let map;
  try {
    map = await latest("map", () => api(`${base()}/map`));
  } catch (error) {
    status("No map: see the message above.");
    throw error;
  }
  if (!map) return;
  state.map = map;
  const first = map.labels.find((c) => c.kind === "class") || map.labels[0];
  $("colour").replaceChildren(option("", "nothing"), ...map.labels.map((c) => option(c.name, c.name)));
  $("colour").value = first ? first.name : "";
  $("colour-picker").hidden = !map.labels.length;
  $("map-caption").textContent = caption(map);
  status("");
  buildSliders();
  redraw();
}

function describe(i) {
  const labels = labelText(state.map, i);
  const text = state.map.texts ? ` “${state.map.texts[i]}”` : "";
  return `example #${i}${labels ? ` (${labels})` : ""}${text}`;
}

// --- the decoded point and the sliders ----------------------------------------------------------

function conditionBody() {
  return state.info.conditioned ? { condition: $("condition").value } : {};
}

async function decodeNow() {
  if (!state.z) return;
  const body = { z: [state.z], image_format: "png", ...conditionBody() };
  const answer = await fill($("decoded"), "decode", "Decoding…", () => api(`${base()}/decode`, body));
  if (answer) render($("decoded"), state.info.kind, answer.outputs);
}

function buildSliders() {
  $("sliders").replaceChildren(...state.map.dims.map((d) => {
    const row = el("label", null, "slider");
    const input = el("input");
    Object.assign(input, { type: "range", min: d.min, max: d.max, step: (d.max - d.min) / 200 });
    input.disabled = true;
    input.dataset.dim = d.dim;
    const value = el("output", "–", "value");
    input.addEventListener("input", () => {
      state.z[d.dim] = Number(input.value);
      value.textContent = fixed(Number(input.value));
      redraw();
      clearTimeout(state.timer);
      state.timer = setTimeout(guarded(decodeNow), 80);
    });
    row.append(el("span", `z${d.dim}`, "dim"), input, value, el("span", `KL ${cell(d.kl)}`, "kl muted"));
    return row;
  }));
}

const fixed = (v) => (Math.abs(v) < 0.005 ? 0 : v).toFixed(2);

function syncSliders() {
  for (const input of $("sliders").querySelectorAll("input")) {
    const v = state.z[Number(input.dataset.dim)];
    input.disabled = false;
    input.value = v;
    input.nextElementSibling.textContent = fixed(v);
  }
}

// --- interpolation and prior samples ------------------------------------------------------------

async function showEnd(slot, i) {
  const box = $(`end-${slot}`);
  box.replaceChildren(el("strong", slot.toUpperCase()), el("span", i === null ? "none yet" : `#${i}`, "muted"));
  if (i === null) return;
  const answer = await latest(`end-${slot}`, () => api(`${base()}/examples/${i}?image_format=png`));
  if (!answer) return;
  box.append(inline(state.info.kind, answer.example, `example ${i}`));
  if (state.info.kind !== "table") box.append(el("span", labelText(state.map, i), "muted small"));
}

async function pickExample(i, slot) {
  if (!slot) {  // shift-click: A, then B, then a new A
    const full = state.a !== null && state.b !== null;
    slot = state.a === null || full ? "a" : "b";
    if (full) state.b = null;
  }
  state[slot] = i;
  state.pick = null;
  for (const s of ["a", "b"]) $(`pick-${s}`).classList.remove("active");
  redraw();
  const waits = [showEnd(slot, i)];
  if (state.b === null) {
    waits.push(showEnd("b", null));
    $("strip").replaceChildren(el("p", "Now pick B.", "muted"));
  }
  await Promise.all([...waits, interpolateNow()]);
}

async function interpolateNow() {
  if (state.a === null || state.b === null) return;
  const steps = Math.min(Math.max(parseInt($("steps").value, 10) || 8, 2), 32);
  const body = { a: state.a, b: state.b, steps, image_format: "png" };
  const text = "Decoding the line from A to B…";
  const answer = await fill($("strip"), "interpolate", text, () => api(`${base()}/interpolate`, body));
  if (!answer) return;
  const captions = answer.outputs.map((_, k) => (k / (steps - 1)).toFixed(2));
  captions[0] = "A";
  captions[steps - 1] = "B";
  render($("strip"), state.info.kind, answer.outputs, captions);
}

async function sampleNow() {
  if (!state.info) return;
  const temperature = Math.min(Math.max(Number($("temperature").value) || 0, 0), 10);
  const body = { num: SAMPLES, seed: state.seed++, temperature, image_format: "png", ...conditionBody() };
  const answer = await fill($("samples"), "sample", "Drawing…", () => api(`${base()}/sample`, body));
  if (answer) render($("samples"), state.info.kind, answer.outputs);
}

// --- events -------------------------------------------------------------------------------------

function canvasPoint(event) {
  const rect = $("map").getBoundingClientRect();
  return [event.clientX - rect.left, event.clientY - rect.top];
}

function onMapClick(event) {
  if (!state.map) return;
  const [px, py] = canvasPoint(event);
  if (event.shiftKey || state.pick) {
    const { index } = nearest(state.view, state.map, px, py);
    guarded(pickExample)(index, event.shiftKey ? null : state.pick);
    return;
  }
  state.z = latentOf(state.map, state.view.toPoint(px, py));
  syncSliders();
  redraw();
  guarded(decodeNow)();
}

function onMapHover(event) {
  if (!state.map) return;
  const { index, distance } = nearest(state.view, state.map, ...canvasPoint(event));
  $("hover").textContent = distance < 10 ? describe(index) : "";
}

$("map").addEventListener("click", onMapClick);
$("map").addEventListener("mousemove", onMapHover);
for (const slot of ["a", "b"]) {
  $(`pick-${slot}`).addEventListener("click", () => {
    state.pick = state.pick === slot ? null : slot;
    for (const s of ["a", "b"]) $(`pick-${s}`).classList.toggle("active", state.pick === s);
  });
}
$("model").addEventListener("change", () => guarded(openModel)($("model").value));
$("colour").addEventListener("change", redraw);
$("condition").addEventListener("change", guarded(decodeNow));
$("steps").addEventListener("change", guarded(interpolateNow));
$("sample").addEventListener("click", guarded(sampleNow));
window.addEventListener("resize", redraw);
window.addEventListener("hashchange", guarded(start));
guarded(start)();
