"""The plugin side of the CNI protocol: environment, version rules, dispatch, namespaces, signals, logging."""

__all__: list[str] = []  # the modules are the interface
