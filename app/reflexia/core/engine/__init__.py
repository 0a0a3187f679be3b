"""Backends, the values that cross threads, prompts and the context budget."""
