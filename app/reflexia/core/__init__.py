"""The Qt-free engine: backends, GGUF metadata, settings, conversations.

Nothing in this package may import PySide6; import-linter enforces it.
"""
