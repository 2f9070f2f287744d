"""aved: zero-shot audio-visual editing by cross-modal delta denoising.

`from aved import edit, EditConfig` is the Python API; the heavy imports happen on first use.
"""

__version__ = "0.1.0"
__all__ = ["EditConfig", "EditResult", "edit"]


def __getattr__(name: str):
    if name == "edit":
        from aved.api import edit

        return edit
    if name == "EditConfig":
        from aved.config import EditConfig

        return EditConfig
    if name == "EditResult":
        from aved.result import EditResult

        return EditResult
    raise AttributeError(f"module 'aved' has no attribute {name!r}")
