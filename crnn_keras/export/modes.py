"""The TFLite number formats an export can write (a light module: the CLI lists them in --help)."""

QUANTIZE_MODES = ("float32", "float16", "dynamic", "int8")
