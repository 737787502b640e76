"""Build and deploy tools: one-file bundles and atomic installation into a CNI bin directory."""

__all__: list[str] = []  # the modules are the interface
