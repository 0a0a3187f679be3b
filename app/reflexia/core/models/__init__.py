"""Model files: GGUF reading and validation, the catalog, the quantization ladder and quantizer."""
