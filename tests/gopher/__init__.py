"""Chapter 4's tests, one file per file of ``fourpapers.gopher``."""
