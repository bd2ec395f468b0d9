"""The attention heatmap: its data (:class:`HeatmapData`, with the labels of its rows and columns) and the browser
component that draws it (:func:`attention_heatmap`, a ``gr.HTML`` component with its own template, style and script).

The server sends the numbers (:meth:`HeatmapData.to_json`), not a picture, so no request
spends time drawing. The browser draws a table of coloured cells whose labels are real text (12 px at any window
width, the map scrolls sideways when it is wider than the page) and:

- hovering (or focusing) a cell shows the output word, the source word and the exact weight;
- clicking a cell or an output word's row label fires the component's ``select`` event with
  ``{"index": row, "value": row label}``, read in Python as :class:`gradio.SelectData`;
- optional per-cell markers (``"markers"``: ``[[row, column], ...]``) are drawn as rings over the colours, for
  links from another source (for example a word aligner's) against the attention;
- a row of buttons under a map (not under a message) downloads it, made in the browser from the value (no request):
  its numbers as CSV (a header of the column labels, then a row per output word led by its label) or JSON (title,
  labels, matrix, markers and their meaning, value label, axes, ``vmax``), or a picture as SVG (cells, labels as
  ``<text>``, markers, a colour legend) or PNG (that SVG drawn at twice its size). Files are named after the title.

Safety: every label is user text (or made from it). The script only ever writes it with ``textContent``; the HTML and
CSS templates are constant strings. (Gradio evaluates those templates as JavaScript template literals after
Handlebars, so text placed in them could run as code: nothing of the value is ever placed there.) The SVG is built
with ``createElementNS`` and ``textContent`` too and serialised by ``XMLSerializer``, which escapes it; characters XML
cannot hold become U+FFFD there. In the CSV, a label that a spreadsheet would read as a formula (one starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with ``'``; numbers are written with ``Number``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np

from attention_demo import plots
from attention_demo.tokenizer import display_piece
from attention_demo.ui import text

LABEL_CHARS = 24  # heatmap labels longer than this end with "…" (the tooltip and the spans show the same label)


@dataclass
class HeatmapData:
    """A heatmap for the browser: ``matrix`` ``(rows, columns)`` in ``[0, vmax]`` with a label per row and column.

    ``selected`` is the outlined row; ``markers`` are ``(row, column)`` cells drawn with a ring (for example links of a
    word aligner, to compare attention with word alignment), described by ``marker_label``. A heatmap with a
    ``message`` shows only that sentence.
    """

    matrix: np.ndarray
    rows: list[str]
    columns: list[str]
    title: str = ""
    selected: int | None = None
    markers: list[tuple[int, int]] = field(default_factory=list)
    marker_label: str = ""
    value_label: str = text.ATTENTION_WEIGHT
    vmax: float = 1.0
    message: str = ""
    row_axis: str = text.OUTPUT_AXIS  # what the rows and the columns are, for the hover text
    column_axis: str = text.SOURCE_AXIS

    @classmethod
    def message_only(cls, message: str, title: str = "") -> HeatmapData:
        return cls(np.zeros((0, 0)), [], [], title=title, message=message)

    def to_json(self) -> dict[str, Any]:
        """The value of the browser component (:func:`attention_heatmap`): plain JSON types only."""
        if self.message:
            return {"title": self.title, "message": self.message}
        return {
            "title": self.title,
            "rows": list(self.rows),
            "columns": list(self.columns),
            "matrix": np.round(np.asarray(self.matrix, dtype=float), 6).tolist(),
            "selected": self.selected,
            "markers": [[int(t), int(j)] for t, j in self.markers],
            "marker_label": self.marker_label,
            "value_label": self.value_label,
            "row_axis": self.row_axis,
            "column_axis": self.column_axis,
            "vmax": self.vmax,
        }


def heatmap_value(heatmap: HeatmapData | None) -> dict[str, Any] | None:
    """The value of a heatmap component: ``heatmap`` as JSON, or None (an empty map) when there is none."""
    return heatmap.to_json() if heatmap is not None else None


def piece_labels(pieces: Sequence[str]) -> list[str]:
    """Subword pieces as heatmap labels (word mark removed, continuation pieces marked with ``·``)."""
    return [plots.printable(display_piece(p), LABEL_CHARS) for p in pieces]


def word_labels(words: Sequence[str]) -> list[str]:
    return [plots.printable(w, LABEL_CHARS) for w in words]


TEMPLATE = '<div class="ad-heatmap" data-testid="attention-heatmap"></div>'

STYLE = """
.ad-heatmap { position: relative; font-size: 12px; color: var(--body-text-color); }
.ad-title { font-weight: 600; margin: 0 0 6px 0; font-size: 13px; }
.ad-scroll { overflow-x: auto; max-width: 100%; }
.ad-table { border-collapse: separate; border-spacing: 1px; }
.ad-table th { font-weight: normal; padding: 0 4px; white-space: nowrap; }
.ad-col { vertical-align: bottom; height: 1px; }
.ad-col span { writing-mode: vertical-rl; transform: rotate(180deg); display: inline-block; max-height: 11em;
  overflow: hidden; text-overflow: ellipsis; }
.ad-axes { color: var(--body-text-color-subdued); }
.ad-row { text-align: right; }
.ad-row button { font: inherit; color: inherit; background: none; border: 1px solid transparent; border-radius: 4px;
  padding: 1px 4px; cursor: pointer; max-width: 14em; overflow: hidden; text-overflow: ellipsis; }
.ad-row button:hover, .ad-row button:focus-visible { border-color: var(--color-accent); }
.ad-cell { width: 28px; min-width: 28px; height: 24px; cursor: pointer; position: relative; padding: 0; }
.ad-cell:focus-visible { outline: 2px solid var(--color-accent); }
.ad-selected .ad-cell { box-shadow: inset 0 2px 0 #d62728, inset 0 -2px 0 #d62728; }
.ad-selected .ad-row button { border-color: #d62728; font-weight: 600; }
.ad-marker { position: absolute; inset: 5px; border: 2px solid #ffffff; border-radius: 50%;
  box-shadow: 0 0 0 1px #000000; pointer-events: none; }
.ad-legend { display: flex; align-items: center; gap: 6px; margin-top: 6px; flex-wrap: wrap; }
.ad-bar { width: 140px; height: 10px; border-radius: 2px; }
.ad-tip { position: absolute; z-index: 10; pointer-events: none; background: var(--background-fill-primary);
  border: 1px solid var(--border-color-primary); border-radius: 4px; padding: 4px 6px; font-size: 12px;
  box-shadow: 0 2px 6px rgba(0, 0, 0, 0.2); white-space: nowrap; }
.ad-message { margin: 8px 0; }
.ad-export { display: flex; align-items: center; flex-wrap: wrap; gap: 2px; margin-top: 4px;
  color: var(--body-text-color-subdued); }
.ad-export button { font: inherit; color: var(--body-text-color); background: none; border: none; padding: 1px 3px;
  border-radius: 3px; cursor: pointer; text-decoration: underline; text-underline-offset: 2px; }
.ad-export button:hover { color: var(--color-accent); }
.ad-export button:focus-visible { outline: 2px solid var(--color-accent); }
.ad-export-note:empty { display: none; }
.ad-export-note { margin-left: 6px; }
"""

SCRIPT = """
const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142], [31, 158, 137],
  [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37]];
function colour(value, top) {
  const x = Math.min(1, Math.max(0, value / top)) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2), f = x - i;
  const c = VIRIDIS[i].map((a, k) => Math.round(a + (VIRIDIS[i + 1][k] - a) * f));
  return 'rgb(' + c.join(',') + ')';
}
function add(parent, tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  parent.appendChild(node);
  return node;
}
const root = element.querySelector('.ad-heatmap');
// Downloads, made here from the value: no request. Every label is user text: it is written with textContent (also in
// the SVG, serialised by XMLSerializer), and CSV fields are quoted and kept from being read as formulas.
const EXPORTS = [['csv', 'CSV', 'Download the numbers as CSV'], ['json', 'JSON', 'Download the numbers as JSON'],
  ['svg', 'SVG', 'Download a picture as SVG'], ['png', 'PNG', 'Download a picture as PNG (2x)']];
const EXPORT_LABEL = 'Download:';
const PNG_FAILED = 'No PNG: the map may be too large; try SVG.';
const JSON_KEYS = ['title', 'rows', 'columns', 'matrix', 'markers', 'marker_label', 'value_label', 'row_axis',
  'column_axis', 'vmax'];
const SVG_NS = 'http://www.w3.org/2000/svg';
const FONT = 'Helvetica, Arial, sans-serif';
const CELL_W = 28, CELL_H = 24, PAD = 10, PNG_SCALE = 2, REVOKE_MS = 40000;
function fileName(v, extension) {
  const base = String(v.title || '').replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 80).replace(/^_+|_+$/g, '');
  return (base || 'attention') + '.' + extension;
}
function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_MS);
}
function csvField(text) {
  let s = String(text);
  if (/^[=+\\-@\\t\\r]/.test(s)) s = "'" + s;
  return /[",\\r\\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}
function toCsv(v) {
  const lines = [[v.row_axis + ' / ' + v.column_axis].concat(v.columns).map(csvField).join(',')];
  v.rows.forEach((label, t) => {
    lines.push([csvField(label)].concat(v.matrix[t].map((x) => String(Number(x)))).join(','));
  });
  return '\\ufeff' + lines.join('\\r\\n') + '\\r\\n';  // the byte order mark tells spreadsheets it is UTF-8
}
function toJson(v) {
  const out = {};
  JSON_KEYS.forEach((key) => { if (v[key] !== undefined) out[key] = v[key]; });
  return JSON.stringify(out) + '\\n';
}
function xmlText(text) {  // what XML 1.0 cannot hold (control characters, lone surrogates) becomes U+FFFD
  let s = String(text);
  if (s.toWellFormed) s = s.toWellFormed();
  return s.replace(/[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\ufffe\\uffff]/g, '\\ufffd');
}
let measurer = null;
function textWidth(text, size, weight) {
  if (!measurer) measurer = document.createElement('canvas').getContext('2d');
  if (!measurer) return String(text).length * size * 0.6;
  measurer.font = (weight || 'normal') + ' ' + size + 'px ' + FONT;
  return measurer.measureText(xmlText(text)).width * 1.05;  // a little room for another font where the file is opened
}
function svgAdd(parent, tag, attributes, text) {
  const node = document.createElementNS(SVG_NS, tag);
  Object.keys(attributes).forEach((name) => node.setAttribute(name, String(attributes[name])));
  if (text !== undefined) node.textContent = xmlText(text);
  if (parent) parent.appendChild(node);
  return node;
}
function toSvg(v) {
  const top = v.vmax || 1, rows = v.rows, columns = v.columns;
  const widest = (labels) => labels.reduce((w, label) => Math.max(w, textWidth(label, 12)), 0);
  const svg = svgAdd(null, 'svg', {'font-family': FONT, 'font-size': 12});
  const background = svgAdd(svg, 'rect', {class: 'background', x: 0, y: 0, fill: '#ffffff'});
  const gradient = svgAdd(svgAdd(svg, 'defs', {}), 'linearGradient', {id: 'viridis', x1: 0, y1: 0, x2: 1, y2: 0});
  VIRIDIS.forEach((c, i) => {
    svgAdd(gradient, 'stop', {offset: i / (VIRIDIS.length - 1), 'stop-color': 'rgb(' + c.join(',') + ')'});
  });
  const label = (text, x, y, extra) =>
    svgAdd(svg, 'text', Object.assign({x: x, y: y, dy: '0.35em', fill: '#1a1a1a'}, extra || {}), text);
  let right = 0;
  if (v.title) {
    const bold = {class: 'title', x: PAD, y: PAD + 13, 'font-size': 13, 'font-weight': 600, fill: '#1a1a1a'};
    svgAdd(svg, 'text', bold, v.title);
    right = PAD + textWidth(v.title, 13, 600);
  }
  const left = PAD + Math.ceil(widest(rows)) + 8;
  const gridTop = PAD + (v.title ? 24 : 0) + Math.ceil(widest(columns)) + 8;
  columns.forEach((text, j) => {
    const x = left + j * CELL_W + (CELL_W - 1) / 2, y = gridTop - 6;
    label(text, x, y, {class: 'column', transform: 'rotate(-90 ' + x + ' ' + y + ')'});
  });
  rows.forEach((text, t) => {
    label(text, left - 6, gridTop + t * CELL_H + (CELL_H - 1) / 2, {class: 'row', 'text-anchor': 'end'});
    v.matrix[t].forEach((value, j) => svgAdd(svg, 'rect', {class: 'cell', x: left + j * CELL_W, y: gridTop + t * CELL_H,
      width: CELL_W - 1, height: CELL_H - 1, fill: colour(value, top)}));
  });
  const ring = (kind, cx, cy, r, fill) => {  // a white ring with a black edge, as on the page
    const edge = {class: kind + '-edge', cx: cx, cy: cy, r: r + 1.5, fill: 'none', stroke: '#000000'};
    svgAdd(svg, 'circle', Object.assign(edge, {'stroke-width': 1}));
    svgAdd(svg, 'circle', {class: kind, cx: cx, cy: cy, r: r, fill: fill, stroke: '#ffffff', 'stroke-width': 2});
  };
  (v.markers || []).forEach((m) => {
    const t = Number(m[0]), j = Number(m[1]);
    if (!(t >= 0 && t < rows.length && j >= 0 && j < columns.length)) return;
    ring('marker', left + j * CELL_W + (CELL_W - 1) / 2, gridTop + t * CELL_H + (CELL_H - 1) / 2, 6, 'none');
  });
  right = Math.max(right, left + columns.length * CELL_W);
  let y = gridTop + rows.length * CELL_H + 16;  // the middle of the legend's first line
  let x = PAD;
  label('0', x, y);
  x += textWidth('0', 12) + 6;
  svgAdd(svg, 'rect', {class: 'legend', x: x, y: y - 5, width: 140, height: 10, rx: 2, fill: 'url(#viridis)'});
  x += 146;
  const scale = String(top) + ' ' + v.value_label;
  label(scale, x, y);
  right = Math.max(right, x + textWidth(scale, 12));
  y += 20;
  const axes = 'rows: ' + v.row_axis + ' \\u00b7 columns: ' + v.column_axis;
  label(axes, PAD, y, {fill: '#555555'});
  right = Math.max(right, PAD + textWidth(axes, 12));
  if (v.markers && v.markers.length && v.marker_label) {
    y += 20;
    ring('legend-marker', PAD + 6, y, 5, '#777777');
    label(v.marker_label, PAD + 18, y);
    right = Math.max(right, PAD + 18 + textWidth(v.marker_label, 12));
  }
  const width = Math.ceil(right + PAD), height = Math.ceil(y + 10 + PAD);
  [svg, background].forEach((node) => { node.setAttribute('width', width); node.setAttribute('height', height); });
  svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  const text = '<?xml version="1.0" encoding="UTF-8"?>\\n' + new XMLSerializer().serializeToString(svg) + '\\n';
  return {text: text, width: width, height: height};
}
function savePng(v, note) {
  const picture = toSvg(v);
  const url = URL.createObjectURL(new Blob([picture.text], {type: 'image/svg+xml'}));
  const fail = () => { URL.revokeObjectURL(url); note.textContent = PNG_FAILED; };
  const image = new Image();
  image.onerror = fail;
  image.onload = () => {
    const canvas = document.createElement('canvas');
    canvas.width = picture.width * PNG_SCALE;
    canvas.height = picture.height * PNG_SCALE;
    const context = canvas.getContext('2d');
    if (!context) { fail(); return; }
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    URL.revokeObjectURL(url);
    canvas.toBlob((blob) => { if (blob) save(blob, fileName(v, 'png')); else fail(); }, 'image/png');
  };
  image.src = url;
}
function download(v, format, note) {
  note.textContent = '';
  if (format === 'csv') save(new Blob([toCsv(v)], {type: 'text/csv;charset=utf-8'}), fileName(v, 'csv'));
  else if (format === 'json') save(new Blob([toJson(v)], {type: 'application/json'}), fileName(v, 'json'));
  else if (format === 'svg') save(new Blob([toSvg(v).text], {type: 'image/svg+xml'}), fileName(v, 'svg'));
  else savePng(v, note);
}
function addExports(v) {
  const row = add(root, 'div', 'ad-export');
  row.setAttribute('role', 'group');
  row.setAttribute('aria-label', 'Download this map');
  add(row, 'span', 'ad-export-label', EXPORT_LABEL);
  const note = add(row, 'span', 'ad-export-note');
  note.setAttribute('role', 'status');
  EXPORTS.forEach(([format, name, description], i) => {
    if (i) row.insertBefore(document.createTextNode(' \\u00b7 '), note);
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = name;
    button.title = description;
    button.dataset.format = format;
    button.addEventListener('click', () => download(v, format, note));
    row.insertBefore(button, note);
  });
}
let tip = null;
function describe(v, t, j) {
  return v.row_axis + ': ' + v.rows[t] + ' \\u00b7 ' + v.column_axis + ': ' + v.columns[j] + ' \\u00b7 ' +
    v.value_label + ': ' + Number(v.matrix[t][j]).toFixed(4);
}
function draw() {
  const v = props.value;
  root.replaceChildren();
  tip = null;
  if (!v || typeof v !== 'object') return;
  if (v.title) add(root, 'div', 'ad-title', v.title);
  if (v.message) { add(root, 'p', 'ad-message', v.message); return; }
  const top = v.vmax || 1;
  const marked = new Set((v.markers || []).map((m) => m[0] + ',' + m[1]));
  const table = add(add(root, 'div', 'ad-scroll'), 'table', 'ad-table');
  table.setAttribute('role', 'grid');
  const head = add(add(table, 'thead'), 'tr');
  add(head, 'th', 'ad-corner');
  v.columns.forEach((label) => add(add(head, 'th', 'ad-col'), 'span', '', label));
  const body = add(table, 'tbody');
  v.rows.forEach((label, t) => {
    const tr = add(body, 'tr', t === v.selected ? 'ad-selected' : '');
    tr.dataset.row = t;
    const button = add(add(tr, 'th', 'ad-row'), 'button', '', label);
    button.type = 'button';
    button.dataset.row = t;
    button.title = 'Inspect this output word';
    v.matrix[t].forEach((value, j) => {
      const td = add(tr, 'td', 'ad-cell');
      td.style.background = colour(value, top);
      td.dataset.row = t;
      td.dataset.col = j;
      td.tabIndex = -1;
      td.setAttribute('aria-label', describe(v, t, j));
      if (marked.has(t + ',' + j)) add(td, 'span', 'ad-marker');
    });
  });
  const legend = add(root, 'div', 'ad-legend');
  add(legend, 'span', '', '0');
  const bar = add(legend, 'span', 'ad-bar');
  const stops = [0, 0.25, 0.5, 0.75, 1].map((x) => colour(x, 1));
  bar.style.background = 'linear-gradient(to right, ' + stops.join(',') + ')';
  add(legend, 'span', '', String(top) + '  ' + v.value_label);
  add(legend, 'span', 'ad-axes', 'rows: ' + v.row_axis + ' \\u00b7 columns: ' + v.column_axis);
  if (v.markers && v.markers.length && v.marker_label) {
    const ring = add(legend, 'span', 'ad-marker');
    ring.style.position = 'relative'; ring.style.display = 'inline-block'; ring.style.width = '10px';
    ring.style.height = '10px'; ring.style.inset = 'auto'; ring.style.background = '#777';
    add(legend, 'span', '', v.marker_label);
  }
  if (Array.isArray(v.matrix) && v.matrix.length) addExports(v);
  tip = add(root, 'div', 'ad-tip');
  tip.setAttribute('role', 'tooltip');
  tip.hidden = true;
}
function show(cell) {
  const v = props.value;
  if (!tip || !v || !v.matrix) return;
  const t = Number(cell.dataset.row), j = Number(cell.dataset.col);
  tip.textContent = describe(v, t, j);
  tip.hidden = false;
  const box = root.getBoundingClientRect(), at = cell.getBoundingClientRect();
  const left = Math.max(0, Math.min(at.left - box.left, box.width - tip.offsetWidth));
  tip.style.left = left + 'px';
  tip.style.top = (at.bottom - box.top + 4) + 'px';
}
root.addEventListener('mouseover', (event) => {
  const cell = event.target.closest('td.ad-cell');
  if (cell) show(cell);
});
root.addEventListener('mouseleave', () => { if (tip) tip.hidden = true; });
root.addEventListener('focusin', (event) => {
  const cell = event.target.closest('td.ad-cell');
  if (cell) show(cell);
});
root.addEventListener('click', (event) => {
  const target = event.target.closest('[data-row]');
  const v = props.value;
  if (!target || !v || !v.rows) return;
  const t = Number(target.dataset.row);
  root.querySelectorAll('tr.ad-selected').forEach((tr) => tr.classList.remove('ad-selected'));
  const row = root.querySelector('tbody tr[data-row="' + t + '"]');
  if (row) row.classList.add('ad-selected');
  trigger('select', {index: t, value: v.rows[t]});
});
watch('value', draw);
draw();
"""


def attention_heatmap(value: dict[str, Any] | None = None, **kwargs: Any) -> gr.HTML:
    """A heatmap drawn in the browser from :meth:`HeatmapData.to_json` values.

    ``.select(fn, ...)`` on it runs ``fn`` when a row label or a cell is clicked; ``gr.SelectData.index`` is the row.
    ``kwargs`` go to ``gr.HTML`` (``elem_id``, ``label``, ...). A function, not a ``gr.HTML`` subclass: Gradio writes
    a ``.pyi`` stub next to the module of every component subclass it sees.
    """
    return gr.HTML(
        value=value,
        html_template=TEMPLATE,
        css_template=STYLE,
        js_on_load=SCRIPT,
        apply_default_css=False,
        **kwargs,
    )
