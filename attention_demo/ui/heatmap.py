"""The attention heatmap, drawn in the browser: a ``gr.HTML`` component with its own template, style and script.

The server sends the numbers (:meth:`attention_demo.ui.views.HeatmapData.to_json`), not a picture, so no request
spends time drawing. The browser draws a table of coloured cells whose labels are real text (12 px at any window
width, the map scrolls sideways when it is wider than the page) and:

- hovering (or focusing) a cell shows the output word, the source word and the exact weight;
- clicking a cell or an output word's row label fires the component's ``select`` event with
  ``{"index": row, "value": row label}``, read in Python as :class:`gradio.SelectData`;
- optional per-cell markers (``"markers"``: ``[[row, column], ...]``) are drawn as rings over the colours, for
  links from another source (for example a word aligner's) against the attention.

Safety: every label is user text (or made from it). The script only ever writes it with ``textContent``; the HTML and
CSS templates are constant strings. (Gradio evaluates those templates as JavaScript template literals after
Handlebars, so text placed in them could run as code: nothing of the value is ever placed there.)
"""

from __future__ import annotations

from typing import Any

import gradio as gr

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
    """A heatmap drawn in the browser from :meth:`~attention_demo.ui.views.HeatmapData.to_json` values.

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
