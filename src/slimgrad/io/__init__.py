"""Interop: the safetensors format (``slimgrad.io.safetensors``), and exchange with other frameworks."""
