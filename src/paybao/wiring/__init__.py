"""Feature wiring: each module's `install(platform)` builds a feature's services, registers its
job handlers, reconcile checks and sweeps. `bootstrap.build_platform` calls them in order."""
