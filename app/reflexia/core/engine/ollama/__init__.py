"""The Ollama backend: models run by an Ollama server, reached over its HTTP API."""
