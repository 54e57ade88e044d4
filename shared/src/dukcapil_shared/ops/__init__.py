"""Operating the failures: dead letters parked per service, replayed or discarded by an operator over the service's
HTTP API (the operators' command line that calls it is dukcapil_ops, in tools/ops)."""
