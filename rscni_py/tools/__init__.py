"""Build and deploy tools: one-file bundles and atomic installation into a CNI bin directory."""
