"""The engine: Stream, fusion, sources, lifecycle. Private: import from ``sluiceway``."""
