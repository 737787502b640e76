"""Build and deploy tools: one-file bundles, atomic installation into a CNI bin directory, and warm mode (a resident
daemon, ``serve``, and the static executable the runtime runs in its place, ``shim``)."""

__all__: list[str] = []  # the modules are the interface
