"""The in-process llama.cpp backend (the only code that knows about files, threads and GPU layers)."""
