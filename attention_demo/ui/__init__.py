"""The Gradio app, one module per job:

- :mod:`~attention_demo.ui.views`: what every part of the page shows, computed from the models (no Gradio);
- :mod:`~attention_demo.ui.text`: every sentence a visitor reads;
- :mod:`~attention_demo.ui.heatmap`: the heatmap the browser draws (hover, click);
- :mod:`~attention_demo.ui.layout`: the page, one builder per tab;
- :mod:`~attention_demo.ui.wiring`: the events, handlers that return values keyed by component;
- :mod:`~attention_demo.ui.serving`: the queue, threads and launch (``app.py`` calls :func:`serving.serve`).

Importing this package imports nothing heavy; ``views`` can be used without Gradio installed.
"""
