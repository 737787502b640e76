"""Small helpers every layer of rscni-py shares (quoting, strict JSON, spec versions); internal to the SDK."""
