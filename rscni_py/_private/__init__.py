"""Implementation details of rscni-py; nothing here is public API."""
