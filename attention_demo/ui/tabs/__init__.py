"""The app's tabs, one module each: the components (a dataclass and its builder), the presenter that turns a view into
component values, and the wiring of the tab's events."""
