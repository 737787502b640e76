"""The plugin side of the CNI protocol: environment, version rules, dispatch, namespaces, signals, logging."""
