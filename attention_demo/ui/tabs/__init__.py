"""The app's tabs, one module each, holding the whole tab: its components (a dataclass) and their builder
``build(demo)``, the views it shows and the presenters that compute them, ``present`` (a view as component values),
and ``wire(tab, demo, shared)``, its events. Each has an ``ID`` (the tab's id); :data:`attention_demo.ui.layout.TABS`
lists them in page order. A tab module imports the shared modules of :mod:`attention_demo.ui`, never another tab."""
