"""Implementation modules of rscni-py; nothing in here is public API."""
