"""The browser app (`rag app`): a Gradio chat over the on-disk index. Import `app.ui` to build it."""

from __future__ import annotations


def build_app(settings, service=None):
    """The Gradio Blocks app over ``settings``' index (see ``app.ui.build_app``)."""
    from app.ui import build_app as _build

    return _build(settings, service)


def launch_app(settings, host: str = "127.0.0.1", port: int = 7860, block: bool = True):
    """Build and serve the app (see ``app.ui.launch_app``)."""
    from app.ui import launch_app as _launch

    return _launch(settings, host, port, block)
