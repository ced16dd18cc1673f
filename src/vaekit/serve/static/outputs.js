/* What the explorer shows of a model's outputs, by kind of data: pictures (PNG data URLs),
   sentences, or table rows. Every text goes in as text (textContent), never as HTML. */

export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

export function option(value, text) {
  const node = el("option", text);
  node.value = value;
  return node;
}

/* A cell of a table or a label: 4 significant digits for a fraction, a dash for a missing one. */
export function cell(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number" && !Number.isInteger(value)) {
    return String(Number(value.toPrecision(4)));
  }
  return String(value);
}

/* `outputs` of a model of `kind` into `box`, one after another, each with its caption if given. */
export function render(box, kind, outputs, captions) {
  if (kind === "images") {
    box.replaceChildren(...outputs.map((src, i) => {
      const figure = el("figure");
      const img = el("img", null, "picture");
      img.src = src;
      img.alt = captions ? `decoded at ${captions[i]}` : "decoded image";
      figure.append(img);
      if (captions) figure.append(el("figcaption", captions[i]));
      return figure;
    }));
  } else if (kind === "text") {
    const many = outputs.length > 1;  // numbered, unless captions say where each one is
    const list = el(many ? (captions ? "ul" : "ol") : "div", null, captions ? "sentences plain" : "sentences");
    outputs.forEach((line, i) => {
      const item = el(many ? "li" : "p", line || "(empty sentence)", "sentence");
      if (!line) item.classList.add("muted");
      if (captions) item.prepend(el("span", captions[i], "caption"));
      list.append(item);
    });
    box.replaceChildren(list);
  } else if (outputs.length === 1 && !captions) {
    box.replaceChildren(rowTable(outputs[0]));
  } else {
    box.replaceChildren(rowsTable(outputs, captions));
  }
}

/* Rows `{column: cell}` as a table: a header of column names, one line per row. */
export function rowsTable(rows, captions) {
  const table = el("table", null, "rows");
  const names = Object.keys(rows[0] || {});
  const head = el("tr");
  if (captions) head.append(el("th", ""));
  names.forEach((name) => head.append(el("th", name)));
  table.append(head);
  rows.forEach((row, i) => {
    const tr = el("tr", null, "row");
    if (captions) tr.append(el("th", captions[i]));
    names.forEach((name) => tr.append(el("td", cell(row[name]))));
    table.append(tr);
  });
  return table;
}

/* One row as a table of two columns: each column's name, then its cell. */
export function rowTable(row) {
  const table = el("table", null, "rows vertical");
  for (const [name, value] of Object.entries(row)) {
    const tr = el("tr", null, "row");
    tr.append(el("th", name), el("td", cell(value)));
    table.append(tr);
  }
  return table;
}

/* One example in a line: a small picture, a quoted sentence, or `column=cell, ...`. */
export function inline(kind, example, alt) {
  if (kind === "images") {
    const img = el("img", null, "thumb");
    img.src = example;
    img.alt = alt;
    return img;
  }
  if (kind === "text") return el("span", `“${example}”`, "sentence");
  return el("span", Object.entries(example).map(([k, v]) => `${k}=${cell(v)}`).join(", "), "small");
}
