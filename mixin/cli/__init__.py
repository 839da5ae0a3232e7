"""The command lines: one module per command, thin, over the library."""
