"""The Qt-free core, laid out by capability.

- ``engine``: the backend interface, the values that cross threads, prompt rendering,
  the context budget, and ``engine.llama_cpp`` (the in-process llama.cpp backend).
- ``models``: GGUF reading and validation, the model catalog, the quantization ladder,
  the quantizer and the test-model factory.
- ``memory``: memory estimates and budgets, the memory monitor, the governor policy.
- ``config``: settings, folders and logging set-up.
- ``diagnostics``: ``reflexia doctor``'s checks.

Nothing in this package may import PySide6; import-linter enforces it.
"""
