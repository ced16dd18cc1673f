/* The latent map on a canvas: the examples' points coloured by a label, the two picked examples
   (A, B), the current latent (a red cross), and the way back from a pixel to a latent. */

import { cell, el } from "./outputs.js";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
  "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"];
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

/* The latent of a map point p: centre + p @ axes. */
export function latentOf(map, point) {
  const { centre, axes } = map.projection;
  return centre.map((c, d) => c + point[0] * axes[0][d] + point[1] * axes[1][d]);
}

/* The map point of a latent z: (z - centre) @ axes^T. */
export function pointOf(map, z) {
  const { centre, axes } = map.projection;
  const dot = (axis) => z.reduce((sum, v, d) => sum + (v - centre[d]) * axis[d], 0);
  return [dot(axes[0]), dot(axes[1])];
}

/* What the map shows, in words. */
export function caption(map) {
  const p = map.projection;
  let text = `Posterior means of ${map.source}. `;
  if (p.method === "pca") {
    text += `The ${map.latent_dim}-d latent is projected on the two principal axes of the means ` +
      `(PC1 across, PC2 up; they keep ${(100 * p.explained).toFixed(0)}% of the variance): a ` +
      "click decodes the means' centre plus that point along the two axes.";
  } else if (map.latent_dim === 2) {
    text += "The 2-d latent is drawn as it is (z0 across, z1 up).";
  } else {
    text += "The 1-d latent runs across; the vertical axis is unused.";
  }
  return text;
}

/* Data <-> canvas pixels: one scale on both axes, a margin around the points. */
function makeView(points, width, height) {
  let [x0, x1, y0, y1] = [0, 0, 0, 0];  // the origin in view: the prior's mode, or the means' centre
  for (const [x, y] of points) {
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  const span = Math.max(x1 - x0, y1 - y0, 1e-3) * 1.15;
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, scale = Math.min(width, height) / span;
  return {
    toPixel: ([x, y]) => [width / 2 + (x - cx) * scale, height / 2 - (y - cy) * scale],
    toPoint: (px, py) => [cx + (px - width / 2) / scale, cy - (py - height / 2) / scale],
  };
}

function viridis(t) {
  const last = VIRIDIS.length - 1;
  const x = Math.min(Math.max(t, 0), 1) * last, k = Math.min(Math.floor(x), last - 1);
  const mix = VIRIDIS[k].map((v, j) => Math.round(v + (VIRIDIS[k + 1][j] - v) * (x - k)));
  return `rgb(${mix.join(",")})`;
}

function colouring(map, name) {
  const column = map.labels.find((c) => c.name === name);
  if (!column) return { colours: map.points.map(() => PALETTE[0]) };
  if (column.kind === "class") {
    return { column, colours: column.values.map((v) => PALETTE[v % PALETTE.length]) };
  }
  const known = column.values.filter((v) => v !== null);
  const lo = Math.min(...known), hi = Math.max(...known);
  const colours = column.values.map((v) => (v === null ? "#bbb" : viridis((v - lo) / (hi - lo || 1))));
  return { column, colours, lo, hi };
}

/* Draws `map` on `canvas` and its colour key in `legend`; returns the view (pixels <-> points).
   `marks`: {colour: a label's name, a, b: picked example indices or null, z: a latent or null}. */
export function drawMap(canvas, legend, map, marks) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  const view = makeView(map.points, width, height);
  const [ox, oy] = view.toPixel([0, 0]);
  ctx.strokeStyle = "#e4e7eb";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(0, oy);
  ctx.lineTo(width, oy);
  ctx.moveTo(ox, 0);
  ctx.lineTo(ox, height);
  ctx.stroke();
  const pca = map.projection.method === "pca";
  ctx.fillStyle = "#6b7280";
  ctx.font = "12px sans-serif";
  const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
  ctx.fillText(pca ? "PC1 →" : "z0 →", width - 44, clamp(oy - 6, 14, height - 4));
  if (map.latent_dim > 1) ctx.fillText(pca ? "PC2 ↑" : "z1 ↑", clamp(ox + 6, 4, width - 44), 14);

  const { colours, column, lo, hi } = colouring(map, marks.colour);
  const n = map.points.length, radius = n > 1000 ? 2.2 : n > 200 ? 3 : 4.5;
  ctx.globalAlpha = 0.8;
  map.points.forEach((point, i) => {
    const [px, py] = view.toPixel(point);
    ctx.fillStyle = colours[i];
    ctx.beginPath();
    ctx.arc(px, py, radius, 0, 2 * Math.PI);
    ctx.fill();
  });
  ctx.globalAlpha = 1;
  ctx.lineWidth = 2;
  for (const slot of ["a", "b"]) {
    if (marks[slot] === null) continue;
    const [px, py] = view.toPixel(map.points[marks[slot]]);
    ctx.strokeStyle = ctx.fillStyle = "#111";
    ctx.beginPath();
    ctx.arc(px, py, radius + 4, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.font = "bold 13px sans-serif";
    ctx.fillText(slot.toUpperCase(), px + radius + 5, py - radius - 3);
  }
  if (marks.z) {
    const [px, py] = view.toPixel(pointOf(map, marks.z));
    ctx.strokeStyle = "#d00";
    ctx.beginPath();
    ctx.moveTo(px - 9, py);
    ctx.lineTo(px + 9, py);
    ctx.moveTo(px, py - 9);
    ctx.lineTo(px, py + 9);
    ctx.stroke();
  }
  canvas.dataset.points = String(n);
  drawLegend(legend, column, lo, hi);
  return view;
}

function drawLegend(box, column, lo, hi) {
  if (!column) return box.replaceChildren();
  if (column.kind === "class") {
    const present = new Set(column.values);
    const keys = column.classes.map((name, k) => {
      const item = el("span", null, "key");
      const swatch = el("span", null, "swatch");
      swatch.style.background = PALETTE[k % PALETTE.length];
      item.append(swatch, name);
      return item;
    });
    return box.replaceChildren(...keys.filter((_, k) => present.has(k)));
  }
  const ramp = el("span", null, "ramp");
  ramp.style.background = `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map(viridis).join(", ")})`;
  return box.replaceChildren(el("span", `${column.name}: ${cell(lo)}`), ramp, el("span", cell(hi)));
}

/* The example whose point is nearest the pixel (px, py), and how far it is in pixels. */
export function nearest(view, map, px, py) {
  let index = 0, best = Infinity;
  map.points.forEach((point, i) => {
    const [x, y] = view.toPixel(point);
    const d = (x - px) ** 2 + (y - py) ** 2;
    if (d < best) [index, best] = [i, d];
  });
  return { index, distance: Math.sqrt(best) };
}

/* An example's labels in words: "shape ellipse, scale 0.8". */
export function labelText(map, i) {
  return map.labels.map((c) => {
    const v = c.values[i];
    return `${c.name} ${c.kind === "class" ? c.classes[v] : cell(v)}`;
  }).join(", ");
}
