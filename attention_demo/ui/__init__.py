"""The Gradio app, one module per job:

- :mod:`~attention_demo.ui.tabs`: one module per tab (``translate``, ``evidence``, ``step``, ``compare``, ``why``,
  ``live``), each holding the tab's components and builder, the views it shows and the presenters that compute them,
  and the tab's events;
- :mod:`~attention_demo.ui.demo`: the state every visitor shares (the models of one folder, the files read with them,
  the cache of searches); :mod:`~attention_demo.ui.state`: what one visitor's tabs share (the translation on screen);
- :mod:`~attention_demo.ui.inputs`: widget values cleaned and clamped; :mod:`~attention_demo.ui.loading`: the models
  and the example sentences;
- :mod:`~attention_demo.ui.text`: every sentence a visitor reads;
- :mod:`~attention_demo.ui.heatmap`: the heatmap's data and labels, and the component the browser draws it with;
- :mod:`~attention_demo.ui.events` and :mod:`~attention_demo.ui.widgets`: what every tab's events and components
  share (``guarded``, the event settings, the read-only tables);
- :mod:`~attention_demo.ui.layout`: the page, its tabs in order; :mod:`~attention_demo.ui.wiring`: the events that
  span tabs (opening the page, links) and the call of every tab's own;
- :mod:`~attention_demo.ui.serving`: the queue, threads and launch (``app.py`` calls :func:`serving.serve`).

Importing this package imports nothing heavy; ``demo``, ``state``, ``inputs`` and ``loading`` import no Gradio.
"""
