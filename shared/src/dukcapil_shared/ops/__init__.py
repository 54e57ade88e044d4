"""Operating the failures: dead letters parked per service, replayed or discarded by an operator, over HTTP and
from the command line (dukcapil-ops, or python -m dukcapil_shared.ops)."""
