# pyroute2's module-level settings; only the ones rscni-py's examples set are declared.
child_process_mode: str
disable_mp_signal: bool
